from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from integrations.history import ImportReport
from integrations.services import history_import_file


def write_report(command: BaseCommand, report: ImportReport) -> None:
    for line, text in report.warnings:
        command.stdout.write(f"warning: line {line}: {text}")
    for line, text in report.errors:
        command.stderr.write(f"error: line {line}: {text}")
    command.stdout.write(
        f"Imported {report.imported} rows; {len(report.warnings)} warnings, {len(report.errors)} errors."
    )


class Command(BaseCommand):
    help = "Import funnel history from a CSV (one row per lead). Importing the same file twice changes nothing."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, file: Path, **options: Any) -> None:
        if not file.is_file():
            raise CommandError(f"{file} is not a file.")
        with file.open(newline="", encoding="utf-8-sig") as handle:
            try:
                report = history_import_file(lines=handle, name=file.name)
            except UnicodeDecodeError:
                # Rows before the bad bytes may be in; importing again once the file is UTF-8 is safe.
                raise CommandError(f"{file} is not UTF-8 text; save it as UTF-8 and import it again.") from None
        write_report(self, report)
