from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.choices import IntegrationKind
from integrations.services import integration_create
from leads.errors import InvalidInput


class Command(BaseCommand):
    help = "Create an integration; its secret (write key or signing key) is printed on the last line."

    def add_arguments(self, parser: CommandParser) -> None:
        commands = parser.add_subparsers(dest="action", required=True)
        create = commands.add_parser("create", help="Create an integration and print its secret.")
        create.add_argument("--kind", required=True, choices=IntegrationKind.values)
        create.add_argument("--name", required=True)

    def handle(self, *args: Any, action: str, kind: str, name: str, **options: Any) -> None:
        try:
            integration = integration_create(kind=kind, name=name)
        except InvalidInput as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Created {integration.get_kind_display()} integration '{integration.name}'.")
        self.stdout.write(integration.secret)
