from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Account, Activity, FreeMailDomain, Lead, Qualification, StageTransition


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ["domain", "name", "employee_count", "industry", "country"]
    search_fields = ["domain", "name"]
    list_filter = ["industry", "country"]


@admin.register(FreeMailDomain)
class FreeMailDomainAdmin(admin.ModelAdmin):
    search_fields = ["domain"]


@admin.register(Lead)
class LeadAdmin(admin.ModelAdmin):
    list_display = ["email", "full_name", "account", "source", "sub_source", "stage", "created_at"]
    list_filter = ["stage", "source"]
    search_fields = ["email", "first_name", "last_name", "account__domain", "account__name"]
    list_select_related = ["account"]
    raw_id_fields = ["account", "owner"]
    readonly_fields = ["stage", "classification_requested_at", "classified_at"]


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ["lead", "kind", "name", "occurred_at", "source_system", "external_id"]
    list_filter = ["kind", "source_system"]
    search_fields = ["lead__email", "name", "external_id"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]
    date_hierarchy = "occurred_at"


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    """Episodes change stage only through the services, which log every change."""

    list_display = ["lead", "stage", "qualified_at", "ended_at", "source", "sub_source", "bucket", "ruleset_version"]
    list_filter = ["stage", "source", "bucket"]
    search_fields = ["lead__email"]
    list_select_related = ["lead"]
    raw_id_fields = ["lead"]
    readonly_fields = ["stage", "qualified_at", "ended_at"]


@admin.register(StageTransition)
class StageTransitionAdmin(admin.ModelAdmin):
    """The log is append-only: the admin shows it and nothing more."""

    list_display = ["effective_at", "object_type", "object_id", "from_stage", "to_stage", "actor_kind", "actor_name"]
    list_filter = ["object_type", "to_stage", "actor_kind"]
    search_fields = ["lead__email", "actor_name", "reason"]
    list_select_related = ["lead"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
