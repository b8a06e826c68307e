from django.urls import path

from . import views

app_name = "reporting"
urlpatterns = [
    path("", views.reporting_dashboard, name="dashboard"),
    path("refresh/", views.reporting_refresh, name="refresh"),
    path("cells/", views.reporting_drilldown, name="drilldown"),
]
