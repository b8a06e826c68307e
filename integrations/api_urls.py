from django.urls import path

from . import api

urlpatterns = [
    path("leads/", api.LeadListCreate.as_view(), name="api-leads"),
    path("leads/<int:pk>/", api.LeadDetail.as_view(), name="api-lead-detail"),
    path("activities/", api.ActivityListCreate.as_view(), name="api-activities"),
    path("activities/batch/", api.ActivityBatch.as_view(), name="api-activities-batch"),
    path("meetings/", api.MeetingCreate.as_view(), name="api-meetings"),
]
