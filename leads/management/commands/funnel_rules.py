"""`funnel_rules publish FILE.json`: create a ruleset from a file, publish it, wait for the re-evaluation."""

import json
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs.models import Job, JobStatus
from leads.scoring import RulesetInvalid
from leads.services import ruleset_create, ruleset_publish

POLL_SECONDS = 1.0


class Command(BaseCommand):
    help = "Publish a ruleset from a JSON file (API.md, 'Rules') and wait until every lead is re-evaluated."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        publish = sub.add_parser("publish", help="create the ruleset in FILE.json and make it the active one")
        publish.add_argument("file", type=Path)
        publish.add_argument("--timeout", type=float, default=3600, help="seconds to wait (default: an hour)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror}.") from None
        except json.JSONDecodeError as error:
            raise CommandError(f"{path} is not valid JSON: {error.msg} (line {error.lineno}).") from None
        try:
            ruleset = ruleset_create(document=document)
        except RulesetInvalid as invalid:
            lines = [f"  {where}: {' '.join(problems)}" for where, problems in invalid.errors.items()]
            raise CommandError("The ruleset has errors:\n" + "\n".join(lines)) from None
        job = ruleset_publish(ruleset_id=ruleset.pk, actor_name="funnel_rules")
        self.stdout.write(f"Published ruleset v{ruleset.version} “{ruleset.name}”; re-evaluating leads (job {job.pk}).")
        job = self._wait(job.pk, options["timeout"])
        if job.status != JobStatus.SUCCEEDED:
            raise CommandError(f"The re-evaluation {job.status}: {job.message}")
        qualified = job.result.get("qualified", 0)
        self.stdout.write(self.style.SUCCESS(f"Re-evaluated {job.done} leads; {qualified} new QL episodes."))

    def _wait(self, job_id: int, timeout: float) -> Job:
        deadline = time.monotonic() + timeout
        last = -1
        while True:
            job = Job.objects.get(pk=job_id)
            if job.is_finished:
                return job
            if job.done != last and job.total:
                self.stdout.write(f"  {job.done} of {job.total} leads")
                last = job.done
            if time.monotonic() > deadline:
                raise CommandError(f"Gave up waiting after {timeout:g} s; job {job_id} is still {job.status}.")
            time.sleep(POLL_SECONDS)
