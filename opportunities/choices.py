from django.db import models


class OpportunityStage(models.TextChoices):
    OPEN = "open", "Open"
    QUALIFIED = "qualified", "Qualified (QO)"
    WON = "won", "Closed won"
    LOST = "lost", "Closed lost"
    DISQUALIFIED = "disqualified", "Disqualified"


OPEN_STAGES = (OpportunityStage.OPEN, OpportunityStage.QUALIFIED)
CLOSED_STAGES = (OpportunityStage.WON, OpportunityStage.LOST, OpportunityStage.DISQUALIFIED)

# FUNNEL.md: open -> qualified -> won | lost; open -> disqualified. Nothing else.
OPPORTUNITY_TRANSITIONS: dict[str, frozenset[str]] = {
    OpportunityStage.OPEN: frozenset({OpportunityStage.QUALIFIED, OpportunityStage.DISQUALIFIED}),
    OpportunityStage.QUALIFIED: frozenset({OpportunityStage.WON, OpportunityStage.LOST}),
    OpportunityStage.WON: frozenset(),
    OpportunityStage.LOST: frozenset(),
    OpportunityStage.DISQUALIFIED: frozenset(),
}
# Forward moves may skip stages along this path only; every skipped milestone is filled.
OPPORTUNITY_MAIN_PATH = (OpportunityStage.OPEN, OpportunityStage.QUALIFIED, OpportunityStage.WON)

UNQUALIFIED_BUCKET = "unqualified"


class ReasonUse(models.TextChoices):
    DISQUALIFY = "disqualify", "Disqualifying"
    LOSE = "lose", "Losing"
    BOTH = "both", "Both"
