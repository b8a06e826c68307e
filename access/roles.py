"""The three roles of FUNNEL's users. Roles are Django groups; superusers count as admins."""

from typing import Any

from django.db import models


class Role(models.TextChoices):
    ANALYST = "analyst", "RevOps analyst"
    SALES_REP = "sales_rep", "Sales rep"
    REVOPS_ADMIN = "revops_admin", "RevOps admin"


def roles_of(user: Any) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    if getattr(user, "is_superuser", False):
        return frozenset({Role.REVOPS_ADMIN})
    cached = getattr(user, "_funnel_roles", None)
    if cached is None:
        cached = frozenset(user.groups.filter(name__in=Role.values).values_list("name", flat=True))
        user._funnel_roles = cached
    return cached


def has_role(user: Any, *roles: str) -> bool:
    """True when the user holds any of ``roles``; admins hold every role."""
    held = roles_of(user)
    return Role.REVOPS_ADMIN in held or bool(held.intersection(roles))
