from django.urls import path

from . import rules_api

urlpatterns = [
    path("rulesets/", rules_api.RulesetList.as_view(), name="api-rulesets"),
    path("rulesets/active/", rules_api.RulesetActive.as_view(), name="api-ruleset-active"),
    path("rulesets/<int:pk>/", rules_api.RulesetDetail.as_view(), name="api-ruleset-detail"),
    path("rulesets/<int:pk>/preview/", rules_api.RulesetPreview.as_view(), name="api-ruleset-preview"),
    path("rulesets/<int:pk>/publish/", rules_api.RulesetPublish.as_view(), name="api-ruleset-publish"),
]
