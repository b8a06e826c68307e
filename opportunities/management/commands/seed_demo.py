import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from opportunities.demo import DEFAULT_LEADS, DEMO_PASSWORD, DemoSummary, demo_is_seeded, demo_logins, demo_seed


class Command(BaseCommand):
    help = "Load sixteen weeks of demo funnel data once (nothing happens when it is there), then print the logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--leads", type=int, default=DEFAULT_LEADS, help=f"How many leads (default {DEFAULT_LEADS})."
        )

    def handle(self, *args: Any, leads: int, **options: Any) -> None:
        started = time.perf_counter()
        summary = None if demo_is_seeded() else demo_seed(leads=leads)
        if summary is None:
            self.stdout.write("Demo data is already loaded; nothing to do.")
        else:
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded in {time.perf_counter() - started:.1f} s."))
            self.stdout.write(_summary_block(summary))
        self.stdout.write(_logins_block())


def _summary_block(summary: DemoSummary) -> str:
    buckets = ", ".join(f"{bucket} {count:,}" for bucket, count in summary.qls_by_bucket.items())
    stages = ", ".join(f"{stage} {count:,}" for stage, count in summary.opportunities_by_stage.items())
    again, unqualified = summary.requalified_leads, summary.unqualified_opportunities
    return "\n".join(
        [
            f"  Leads          {summary.leads:>6,}  {summary.activities:,} activities, {summary.accounts:,} accounts",
            f"  QL episodes    {summary.qls:>6,}  {buckets}; {again:,} leads qualified again",
            f"  Opportunities  {summary.opportunities:>6,}  {stages}; {unqualified:,} unqualified",
        ]
    )


def _logins_block() -> str:
    logins = demo_logins()
    width = max(len(username) for username, _ in logins)
    lines = [f"  {username:<{width}}  {role}" for username, role in logins]
    return "\n".join(["", f'Demo logins (password "{DEMO_PASSWORD}" for all):', *lines, ""])
