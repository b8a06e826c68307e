from django.db import models

from leads.models import Lead

from .choices import IntegrationKind


class Integration(models.Model):
    """A connected system and its secret: a Segment write key or a webhook signing key."""

    kind = models.CharField(max_length=20, choices=IntegrationKind.choices)
    name = models.CharField(max_length=100)
    secret = models.CharField(max_length=128)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="integration_kind_name_unique"),
            models.UniqueConstraint(fields=["secret"], name="integration_secret_unique"),
            models.CheckConstraint(condition=models.Q(kind__in=IntegrationKind.values), name="integration_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.name}"


class SegmentIdentity(models.Model):
    """A Segment ``userId`` identified with a lead's e-mail."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="identities")
    user_id = models.CharField(max_length=255)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    # The timestamp of the newest identify applied: an older one delivered late only fills gaps.
    identified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "Segment identities"
        constraints = [
            models.UniqueConstraint(fields=["integration", "user_id"], name="segment_identity_unique"),
        ]

    def __str__(self) -> str:
        return self.user_id


class PendingSegmentEvent(models.Model):
    """A Segment call for a ``userId`` not identified yet, kept until an identify names it."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="pending_events")
    user_id = models.CharField(max_length=255)
    message_id = models.CharField(max_length=255)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "message_id"], name="pending_segment_event_unique"),
        ]
        indexes = [models.Index(fields=["integration", "user_id"], name="pending_segment_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.message_id}"


class ImportRun(models.Model):
    """One history import (a file uploaded by an admin or given to import_history)."""

    job = models.OneToOneField("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=255)
    content = models.TextField(help_text="The uploaded CSV, kept until the import has run.")
    imported = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.pk}: {self.file_name}"


class ImportIssueLevel(models.TextChoices):
    WARNING = "warning", "Warning"
    ERROR = "error", "Error"


class ImportIssue(models.Model):
    """A row the import could not read (error), or read after a correction (warning)."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="issues")
    line = models.PositiveIntegerField()
    level = models.CharField(max_length=10, choices=ImportIssueLevel.choices)
    message = models.CharField(max_length=500)

    class Meta:
        ordering = ["line", "id"]

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"
