from django.urls import path

from . import views

app_name = "opportunities"
urlpatterns = [
    path("", views.opportunities_list, name="list"),
    path("queue/", views.opportunity_queue, name="queue"),
    path("calibration/", views.disqualification_calibration, name="calibration"),
    path("<int:pk>/", views.opportunity_detail, name="detail"),
    path("<int:pk>/reassign/", views.opportunity_reassign_view, name="reassign"),
    path("<int:pk>/<slug:action>/", views.opportunity_act, name="act"),
]
