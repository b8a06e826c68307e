from django.urls import path

from . import api

urlpatterns = [
    path("reports/weekly/", api.WeeklyReport.as_view(), name="api-weekly-report"),
    path("reports/weekly.csv", api.WeeklyReportCsv.as_view(), name="api-weekly-report-csv"),
    path("reports/weekly/refresh/", api.WeeklyReportRefresh.as_view(), name="api-weekly-report-refresh"),
]
