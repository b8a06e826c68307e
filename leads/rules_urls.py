from django.urls import path

from . import rules_views

app_name = "rules"
urlpatterns = [
    path("", rules_views.rules_home, name="home"),
    path("drafts/", rules_views.ruleset_draft_new, name="draft-new"),
    path("<int:pk>/", rules_views.ruleset_detail, name="detail"),
    path("<int:pk>/edit/", rules_views.ruleset_edit, name="edit"),
    path("<int:pk>/preview/", rules_views.ruleset_preview, name="preview"),
    path("<int:pk>/publish/", rules_views.ruleset_publish, name="publish"),
    path("jobs/<int:pk>/", rules_views.rules_job, name="job"),
]
