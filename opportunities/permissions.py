"""Who may act on an opportunity: reps on their own and unassigned ones, admins on all."""

from typing import Any

from access.roles import Role, roles_of

from .models import Opportunity


def may_act_on(user: Any, opportunity: Opportunity) -> bool:
    roles = roles_of(user)
    if Role.REVOPS_ADMIN in roles:
        return True
    return Role.SALES_REP in roles and opportunity.owner_id in (None, user.pk)
