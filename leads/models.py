from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower, Trim
from django.utils import timezone

from .choices import ActivityKind, ActorKind, EpisodeStage, LeadStage, ObjectType, RulesetStatus, Source


class Account(models.Model):
    """A company, keyed by its web domain (lower-cased, without a leading ``www.``)."""

    domain = models.CharField(max_length=253)
    name = models.CharField(max_length=255, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    industry = models.CharField(max_length=100, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    annual_revenue = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["domain"], name="account_domain_unique"),
            models.CheckConstraint(
                condition=Q(domain=Lower(Trim("domain"))) & ~Q(domain__startswith="www.") & ~Q(domain=""),
                name="account_domain_normalised",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.domain


class FreeMailDomain(models.Model):
    """E-mail providers whose domain says nothing about the sender's company."""

    domain = models.CharField(max_length=253, unique=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self) -> str:
        return self.domain


class Lead(models.Model):
    """A person, keyed by e-mail address (trimmed, lower-cased)."""

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    title = models.CharField(max_length=255, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2")
    traits = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.OTHER)
    sub_source = models.CharField(max_length=255, blank=True)
    account = models.ForeignKey(Account, null=True, blank=True, on_delete=models.SET_NULL, related_name="leads")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )
    stage = models.CharField(max_length=20, choices=LeadStage.choices, default=LeadStage.NEW)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Classification bookkeeping: a lead needs classifying when something changed after the
    # last run. Periodic sweeps find leads whose run was lost (broker down, worker killed).
    classification_requested_at = models.DateTimeField(null=True, blank=True)
    classified_at = models.DateTimeField(null=True, blank=True)
    # The latest classification: fit and intent at that moment, and the bucket of the open episode.
    # The explanation is computed when a page asks for it (leads.selectors.lead_explanation).
    fit_score = models.FloatField(null=True, blank=True)
    intent_score = models.FloatField(null=True, blank=True)
    bucket = models.CharField(max_length=50, blank=True)
    ruleset_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["email"], name="lead_email_unique"),
            models.CheckConstraint(condition=Q(email=Lower(Trim("email"))), name="lead_email_normalised"),
            models.CheckConstraint(condition=Q(stage__in=LeadStage.values), name="lead_stage_valid"),
            models.CheckConstraint(condition=Q(source__in=Source.values), name="lead_source_valid"),
        ]
        indexes = [
            models.Index(fields=["stage"], name="lead_stage_idx"),
            models.Index(fields=["created_at"], name="lead_created_idx"),
            models.Index(fields=["source", "sub_source"], name="lead_source_idx"),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def email_domain(self) -> str:
        return self.email.rsplit("@", 1)[-1]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Activity(models.Model):
    """Something a lead did at a moment. Delivered twice, stored once."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="activities")
    kind = models.CharField(max_length=20, choices=ActivityKind.choices)
    name = models.CharField(max_length=255)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    source_system = models.CharField(max_length=50)
    external_id = models.CharField(max_length=255)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(fields=["source_system", "external_id"], name="activity_idempotency_key_unique"),
            models.CheckConstraint(condition=Q(kind__in=ActivityKind.values), name="activity_kind_valid"),
        ]
        indexes = [models.Index(fields=["lead", "occurred_at"], name="activity_lead_time_idx")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class Qualification(models.Model):
    """A QL episode: one period in which a lead is a Qualified Lead."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="qualifications")
    stage = models.CharField(max_length=20, choices=EpisodeStage.choices, default=EpisodeStage.OPEN)
    qualified_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    sub_source = models.CharField(max_length=255, blank=True)
    bucket = models.CharField(max_length=50, blank=True)
    fit_score = models.FloatField(null=True, blank=True)
    intent_score = models.FloatField(null=True, blank=True)
    ruleset_version = models.PositiveIntegerField(null=True, blank=True)
    explanation = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-qualified_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=Q(stage=EpisodeStage.OPEN), name="one_open_episode_per_lead"
            ),
            models.CheckConstraint(condition=Q(stage__in=EpisodeStage.values), name="episode_stage_valid"),
            models.CheckConstraint(
                condition=(Q(stage=EpisodeStage.OPEN) & Q(ended_at__isnull=True))
                | (~Q(stage=EpisodeStage.OPEN) & Q(ended_at__isnull=False) & Q(ended_at__gte=models.F("qualified_at"))),
                name="episode_end_matches_stage",
            ),
        ]
        indexes = [
            models.Index(fields=["qualified_at"], name="episode_qualified_idx"),
            models.Index(fields=["stage", "bucket"], name="episode_stage_bucket_idx"),
        ]

    def __str__(self) -> str:
        return f"QL {self.lead_id} at {self.qualified_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.stage == EpisodeStage.OPEN


class StageTransition(models.Model):
    """Append-only log of every stage change of a lead, an episode or an opportunity.

    Database triggers (migration 0002) refuse UPDATE, and on PostgreSQL DELETE too.
    """

    lead = models.ForeignKey(Lead, on_delete=models.PROTECT, related_name="transitions")
    object_type = models.CharField(max_length=20, choices=ObjectType.choices)
    object_id = models.BigIntegerField()
    from_stage = models.CharField(max_length=20, blank=True)
    to_stage = models.CharField(max_length=20)
    effective_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    actor_kind = models.CharField(max_length=20, choices=ActorKind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    ruleset_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["effective_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(object_type__in=ObjectType.values), name="transition_object_valid"),
            models.CheckConstraint(condition=Q(actor_kind__in=ActorKind.values), name="transition_actor_valid"),
        ]
        indexes = [models.Index(fields=["object_type", "object_id"], name="transition_object_idx")]

    def __str__(self) -> str:
        return f"{self.object_type} {self.object_id}: {self.from_stage or '-'} -> {self.to_stage}"


class Ruleset(models.Model):
    """A version of the admins' fit rules, intent rules, thresholds and buckets (API.md, "Rules").

    ``document`` is the JSON document of API.md, valid by leads.scoring.parse_ruleset. Exactly one
    ruleset is active; drafts are edited until published; a published ruleset is never edited.
    """

    version = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=RulesetStatus.choices, default=RulesetStatus.DRAFT)
    document = models.JSONField()
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["version"], name="ruleset_version_unique"),
            models.UniqueConstraint(
                fields=["status"], condition=Q(status=RulesetStatus.ACTIVE), name="one_active_ruleset"
            ),
            models.CheckConstraint(condition=Q(status__in=RulesetStatus.values), name="ruleset_status_valid"),
        ]

    def __str__(self) -> str:
        return f"v{self.version} {self.name} ({self.status})"


class RulesetPublication(models.Model):
    """Each time a ruleset became the active one: who published it, what it replaced, its re-evaluation."""

    ruleset = models.ForeignKey(Ruleset, on_delete=models.PROTECT, related_name="publications")
    previous = models.ForeignKey(Ruleset, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_by_name = models.CharField(max_length=150, blank=True)
    published_at = models.DateTimeField(default=timezone.now)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-published_at", "-pk"]

    def __str__(self) -> str:
        return f"v{self.ruleset.version} published {self.published_at:%Y-%m-%d %H:%M}"
