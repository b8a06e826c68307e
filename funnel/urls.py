from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("access.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("funnel.api_urls")),
    path("", include("integrations.urls")),
    path("leads/", include("leads.urls")),
    path("rules/", include("leads.rules_urls")),
    path("opportunities/", include("opportunities.urls")),
    path("dashboard/", include("reporting.urls")),
]

handler404 = "access.api.not_found"
