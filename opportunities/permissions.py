"""Who may act on an opportunity: reps on their own and unassigned ones, admins on all."""

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied

from access.roles import Role, roles_of

from .models import Opportunity


def may_act_on(user: Any, opportunity: Opportunity) -> bool:
    roles = roles_of(user)
    if Role.REVOPS_ADMIN in roles:
        return True
    return Role.SALES_REP in roles and opportunity.owner_id in (None, user.pk)


def require_may_act(user: Any) -> Callable[[Opportunity], None]:
    """A check for services to run once the opportunity is locked: PermissionDenied if ``user`` may not act."""

    def check(opportunity: Opportunity) -> None:
        if not may_act_on(user, opportunity):
            raise PermissionDenied("This opportunity belongs to another rep.")

    return check
