from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.services import olist_import

from .import_history import write_report


class Command(BaseCommand):
    help = "Import the public Olist marketing-funnel dataset (MQLs and closed deals) as funnel history."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--mqls", type=Path, required=True, help="olist_marketing_qualified_leads_dataset.csv")
        parser.add_argument("--deals", type=Path, required=True, help="olist_closed_deals_dataset.csv")

    def handle(self, *args: Any, mqls: Path, deals: Path, **options: Any) -> None:
        for path in (mqls, deals):
            if not path.is_file():
                raise CommandError(f"{path} is not a file.")
        write_report(self, olist_import(mqls=mqls, deals=deals))
