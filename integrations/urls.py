from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from . import segment, webhooks

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("segment/v1/batch", segment.SegmentView.as_view(), name="segment-batch"),
    path("segment/v1/track", segment.SegmentView.as_view(call_type="track"), name="segment-track"),
    path("segment/v1/identify", segment.SegmentView.as_view(call_type="identify"), name="segment-identify"),
    path("segment/v1/group", segment.SegmentView.as_view(call_type="group"), name="segment-group"),
]
urlpatterns += [
    path("webhooks/calendly/", webhooks.calendly, name="webhook-calendly"),
    path("webhooks/hubspot/", webhooks.hubspot, name="webhook-hubspot"),
    path("webhooks/intercom/", webhooks.intercom, name="webhook-intercom"),
]
urlpatterns += [
    path("integrations/import/", include("integrations.page_urls")),
]
