from django.contrib import admin

from .models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "done", "total", "created_at", "finished_at", "message"]
    list_filter = ["kind", "status"]
    readonly_fields = [field.name for field in Job._meta.get_fields() if field.concrete]
