from django.urls import path

from . import api

urlpatterns = [
    path("jobs/<int:pk>/", api.JobDetail.as_view(), name="api-job-detail"),
]
