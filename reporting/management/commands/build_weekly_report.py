from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from reporting.services import default_rebuild_range, weekly_report_rebuild
from reporting.stats import parse_iso_week


class Command(BaseCommand):
    help = "Rebuild the weekly report snapshots synchronously (default: the trailing REPORT_REBUILD_WEEKS weeks)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--from", dest="first", help="first ISO week, e.g. 2026-W01")
        parser.add_argument("--to", dest="last", help="last ISO week, e.g. 2026-W10 (default: the current week)")

    def handle(self, *args: Any, **options: Any) -> None:
        default_first, default_last = default_rebuild_range()
        try:
            first = parse_iso_week(options["first"]) if options["first"] else default_first
            last = parse_iso_week(options["last"]) if options["last"] else default_last
        except ValueError as error:
            raise CommandError(str(error)) from error
        if first > last:
            raise CommandError("--from must not come after --to.")
        result = weekly_report_rebuild(first_monday=first, last_monday=last)
        self.stdout.write(
            f"Rebuilt {result.weeks} weeks ({result.first_week} to {result.last_week}): "
            f"{result.rows} rows as of {result.as_of.isoformat()}."
        )
