from typing import Any

from django.contrib.auth.models import Group, Permission, User
from django.db import transaction
from rest_framework.authtoken.models import Token

from .roles import Role

# Apps whose raw records revops admins manage in the Django admin.
ADMIN_MANAGED_APPS = ("leads", "opportunities", "reporting", "integrations", "jobs", "auth", "authtoken")


def grant_admin_permissions(**kwargs: Any) -> None:
    """Give the revops_admin group every permission on the funnel's records (after each migrate)."""
    group, _ = Group.objects.get_or_create(name=Role.REVOPS_ADMIN)
    group.permissions.set(Permission.objects.filter(content_type__app_label__in=ADMIN_MANAGED_APPS))


@transaction.atomic
def user_set_role(*, username: str, role: str, password: str | None = None) -> tuple[User, bool]:
    """Create or update a user holding exactly ``role``. Admins may open the Django admin."""
    if role not in Role.values:
        raise ValueError(f"Unknown role '{role}'. Choose one of: {', '.join(Role.values)}.")
    user, created = User.objects.get_or_create(username=username)
    if password:
        user.set_password(password)
    elif created:
        user.set_unusable_password()
    user.is_staff = role == Role.REVOPS_ADMIN
    user.save()
    user.groups.remove(*Group.objects.filter(name__in=Role.values))
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user, created


def user_issue_token(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key
