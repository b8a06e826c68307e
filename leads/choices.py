"""Stage and kind vocabularies of leads and QL episodes, and their allowed transitions."""

from django.db import models


class ActivityKind(models.TextChoices):
    FORM = "form", "Form"
    CHAT = "chat", "Chat"
    PRODUCT = "product", "Product"
    MEETING = "meeting", "Meeting"
    OTHER = "other", "Other"


class Source(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    CHAT = "chat", "Chat"
    PRODUCT = "product", "Product"
    OTHER = "other", "Other"


# FUNNEL.md, "Channels": the source of a qualification is the channel of the qualifying activity.
CHANNEL_OF_KIND: dict[str, str] = {
    ActivityKind.FORM: Source.INBOUND,
    ActivityKind.CHAT: Source.CHAT,
    ActivityKind.PRODUCT: Source.PRODUCT,
    ActivityKind.MEETING: Source.INBOUND,
    ActivityKind.OTHER: Source.OTHER,
}


class LeadStage(models.TextChoices):
    NEW = "new", "New"
    QL = "ql", "Qualified lead"
    OPPORTUNITY = "opportunity", "Opportunity"
    QO = "qo", "Qualified opportunity"
    CUSTOMER = "customer", "Customer"
    RECYCLED = "recycled", "Recycled"


class EpisodeStage(models.TextChoices):
    OPEN = "open", "Open"
    WON = "won", "Ended: won"
    LOST = "lost", "Ended: lost"
    DISQUALIFIED = "disqualified", "Ended: disqualified"
    RECYCLED = "recycled", "Ended: recycled"


class ObjectType(models.TextChoices):
    LEAD = "lead", "Lead"
    EPISODE = "episode", "QL episode"
    OPPORTUNITY = "opportunity", "Opportunity"


class ActorKind(models.TextChoices):
    USER = "user", "User"
    INTEGRATION = "integration", "Integration"
    SYSTEM = "system", "System"


# A lead's stage follows its episodes and opportunities. "recycled" is a lead whose last
# episode or opportunity ended without a win: it may qualify again.
LEAD_TRANSITIONS: dict[str, frozenset[str]] = {
    LeadStage.NEW: frozenset({LeadStage.QL, LeadStage.OPPORTUNITY}),
    LeadStage.QL: frozenset({LeadStage.OPPORTUNITY, LeadStage.RECYCLED}),
    LeadStage.OPPORTUNITY: frozenset({LeadStage.QO, LeadStage.QL, LeadStage.RECYCLED}),
    LeadStage.QO: frozenset({LeadStage.CUSTOMER, LeadStage.QL, LeadStage.RECYCLED}),
    LeadStage.RECYCLED: frozenset({LeadStage.QL, LeadStage.OPPORTUNITY}),
    LeadStage.CUSTOMER: frozenset(),
}

EPISODE_TRANSITIONS: dict[str, frozenset[str]] = {
    EpisodeStage.OPEN: frozenset(
        {EpisodeStage.WON, EpisodeStage.LOST, EpisodeStage.DISQUALIFIED, EpisodeStage.RECYCLED}
    ),
    EpisodeStage.WON: frozenset(),
    EpisodeStage.LOST: frozenset(),
    EpisodeStage.DISQUALIFIED: frozenset(),
    EpisodeStage.RECYCLED: frozenset(),
}


class RulesetStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"
