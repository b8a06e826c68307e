"""Which pages each role sees in the navigation, and where each role lands after login."""

from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.urls import reverse

from .roles import Role, has_role


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    roles: tuple[str, ...]


NAV_ITEMS = (
    NavItem("Dashboard", "reporting:dashboard", (Role.ANALYST,)),
    NavItem("Queue", "opportunities:queue", (Role.SALES_REP,)),
    NavItem("Opportunities", "opportunities:list", (Role.SALES_REP, Role.ANALYST)),
    NavItem("Leads", "leads:list", (Role.SALES_REP, Role.ANALYST)),
    NavItem("Rules", "rules:home", (Role.REVOPS_ADMIN,)),
    NavItem("Calibration", "opportunities:calibration", (Role.REVOPS_ADMIN,)),
    NavItem("Admin", "admin:index", (Role.REVOPS_ADMIN,)),
)

LANDING_PAGE = {
    Role.REVOPS_ADMIN: "reporting:dashboard",
    Role.ANALYST: "reporting:dashboard",
    Role.SALES_REP: "opportunities:queue",
}


def nav_items_for(user: AbstractBaseUser | AnonymousUser, path: str = "") -> list[dict[str, object]]:
    """The role's pages; the one holding ``path`` most specifically is marked current."""
    items: list[dict[str, object]] = [
        {"label": item.label, "url": reverse(item.url_name), "current": False}
        for item in NAV_ITEMS
        if has_role(user, *item.roles)
    ]
    holding = [item for item in items if path.startswith(str(item["url"]))]
    if holding:
        max(holding, key=lambda item: len(str(item["url"])))["current"] = True
    return items


def landing_url_for(user: AbstractBaseUser | AnonymousUser) -> str | None:
    for role, url_name in LANDING_PAGE.items():
        if has_role(user, role):
            return reverse(url_name)
    return None
