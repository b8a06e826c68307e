from django.contrib import admin
from django.forms import ModelForm
from django.http import HttpRequest

from .models import Integration, PendingSegmentEvent, SegmentIdentity
from .services import integration_create


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "active", "created_at"]
    list_filter = ["kind", "active"]
    fields = ["kind", "name", "active", "secret"]
    readonly_fields = ["secret"]

    def get_readonly_fields(self, request: HttpRequest, obj: Integration | None = None) -> list[str]:
        return ["secret", "kind"] if obj is not None else ["secret"]

    def save_model(self, request: HttpRequest, obj: Integration, form: ModelForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        created = integration_create(kind=obj.kind, name=obj.name)
        obj.pk, obj.secret, obj.created_at = created.pk, created.secret, created.created_at


@admin.register(SegmentIdentity)
class SegmentIdentityAdmin(admin.ModelAdmin):
    list_display = ["user_id", "lead", "integration", "created_at"]
    search_fields = ["user_id", "lead__email"]
    raw_id_fields = ["lead"]


@admin.register(PendingSegmentEvent)
class PendingSegmentEventAdmin(admin.ModelAdmin):
    list_display = ["user_id", "message_id", "integration", "received_at"]
    search_fields = ["user_id", "message_id"]
