from django.conf import settings
from django.db import models
from django.db.models import F, Q

from leads.models import Lead, Qualification

from .choices import CLOSED_STAGES, OPEN_STAGES, UNQUALIFIED_BUCKET, OpportunityStage, ReasonUse


class ReasonCode(models.Model):
    """Why an opportunity was disqualified or lost; admins edit the list."""

    code = models.SlugField(max_length=50, unique=True)
    label = models.CharField(max_length=100)
    used_for = models.CharField(max_length=20, choices=ReasonUse.choices, default=ReasonUse.BOTH)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return self.label


class Opportunity(models.Model):
    """A lead that booked a meeting with sales, from the booking to its outcome."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="opportunities")
    # The QL episode open when the meeting was booked; null for an unqualified opportunity.
    qualification = models.OneToOneField(
        Qualification, null=True, blank=True, on_delete=models.PROTECT, related_name="opportunity"
    )
    stage = models.CharField(max_length=20, choices=OpportunityStage.choices, default=OpportunityStage.OPEN)
    # The episode's bucket, or "unqualified": fixed at booking, since neither the link nor the
    # episode's bucket ever changes. Kept here so the queue sorts and counts on one indexed table.
    bucket = models.CharField(max_length=50, default=UNQUALIFIED_BUCKET)
    created_at = models.DateTimeField(help_text="When the meeting was booked.")
    qualified_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True, help_text="When the meeting takes place.")
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    reason = models.ForeignKey(ReasonCode, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason_note = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    source_system = models.CharField(max_length=50, blank=True)
    external_id = models.CharField(max_length=255, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "opportunities"
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=Q(stage__in=OPEN_STAGES), name="one_open_opportunity_per_lead"
            ),
            models.CheckConstraint(condition=Q(stage__in=OpportunityStage.values), name="opportunity_stage_valid"),
            models.CheckConstraint(
                condition=Q(qualified_at__isnull=True)
                | (
                    Q(qualified_at__gte=F("created_at"))
                    & ~Q(stage__in=[OpportunityStage.OPEN, OpportunityStage.DISQUALIFIED])
                ),
                name="opportunity_qualified_milestone",
            ),
            models.CheckConstraint(
                condition=Q(qualified_at__isnull=False)
                | Q(stage__in=[OpportunityStage.OPEN, OpportunityStage.DISQUALIFIED]),
                name="opportunity_qo_reached",
            ),
            models.CheckConstraint(
                condition=(Q(stage__in=CLOSED_STAGES) & Q(closed_at__isnull=False) & Q(closed_at__gte=F("created_at")))
                | (Q(stage__in=OPEN_STAGES) & Q(closed_at__isnull=True)),
                name="opportunity_closed_milestone",
            ),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True)
                | Q(qualified_at__isnull=True)
                | Q(closed_at__gte=F("qualified_at")),
                name="opportunity_closed_after_qo",
            ),
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(stage=OpportunityStage.WON),
                name="opportunity_amount_only_won",
            ),
        ]
        indexes = [
            models.Index(fields=["stage", "created_at"], name="opportunity_stage_created_idx"),
            models.Index(fields=["stage", "bucket", "created_at"], name="opportunity_queue_idx"),
            models.Index(fields=["qualified_at"], name="opportunity_qualified_idx"),
            models.Index(fields=["closed_at"], name="opportunity_closed_idx"),
        ]

    def __str__(self) -> str:
        return f"Opportunity {self.pk} ({self.stage})"

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES


class Team(models.Model):
    """Reps who work the opportunities of some priority buckets (``unqualified`` included)."""

    name = models.CharField(max_length=100, unique=True)
    buckets = models.JSONField(
        default=list, blank=True, help_text='Bucket keys this team works, e.g. ["P1", "P2"] or ["unqualified"].'
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """A rep in a team. Round robin skips reps who are away or at their cap of open opportunities."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    away = models.BooleanField(default=False, help_text="Away reps get no new opportunities.")
    max_open = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many open opportunities; empty for no cap."
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["team", "user__username"]
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"
