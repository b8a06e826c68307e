from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from access.roles import Role
from access.services import user_issue_token, user_set_role


class Command(BaseCommand):
    help = "Create or update a user with a role; --token prints an API token on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--password", help="Set this password (otherwise an existing one is kept).")
        parser.add_argument("--token", action="store_true", help="Print an API token on the last line.")

    def handle(self, *args: Any, username: str, role: str, password: str | None, token: bool, **options: Any) -> None:
        try:
            user, created = user_set_role(username=username, role=role, password=password)
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"{'Created' if created else 'Updated'} user '{user.username}' with role {role}.")
        if token:
            self.stdout.write(user_issue_token(user=user))
