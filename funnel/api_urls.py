"""Everything under /api/v1/: each app contributes its own routes."""

from django.urls import include, path

urlpatterns = [
    path("", include("jobs.urls")),
    path("", include("leads.rules_api_urls")),
    path("", include("opportunities.api_urls")),
    path("", include("reporting.api_urls")),
    path("", include("integrations.api_urls")),
]
