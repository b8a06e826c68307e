from django.contrib import admin

from .models import Opportunity, ReasonCode, Team, TeamMember


@admin.register(ReasonCode)
class ReasonCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "used_for", "active"]
    list_filter = ["used_for", "active"]


@admin.register(Opportunity)
class OpportunityAdmin(admin.ModelAdmin):
    """Stages and milestones change only through the services, which log every change."""

    list_display = ["id", "lead", "stage", "created_at", "qualified_at", "closed_at", "owner", "amount"]
    list_filter = ["stage", "reason"]
    search_fields = ["lead__email", "external_id"]
    list_select_related = ["lead", "owner"]
    raw_id_fields = ["lead", "qualification", "owner"]
    readonly_fields = ["stage", "created_at", "qualified_at", "closed_at", "qualification", "amount", "reason"]


class TeamMemberInline(admin.TabularInline):
    model = TeamMember
    extra = 1
    raw_id_fields = ["user"]
    readonly_fields = ["last_assigned_at"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    """Teams own buckets; a new opportunity goes round robin to a rep of its bucket's team."""

    list_display = ["name", "buckets"]
    inlines = [TeamMemberInline]
