from django.http import HttpRequest

from .navigation import nav_items_for
from .roles import Role, roles_of


def navigation(request: HttpRequest) -> dict[str, object]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": []}
    return {
        "nav_items": nav_items_for(user, request.path),
        "user_roles": [Role(role).label for role in sorted(roles_of(user))],
    }
