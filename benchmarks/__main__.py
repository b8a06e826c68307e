"""`make bench`: run the benchmarks against the configured database and print their figures.

Figures mean most on PostgreSQL: set DATABASE_URL (and REDIS_URL) as in production.
"""

import argparse
import os
import sys

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "funnel.settings.test")
django.setup()

from django.db import connection  # noqa: E402

from . import classification, ingestion, lifecycle, load, reporting, workspace  # noqa: E402
from .harness import BenchmarkFailed, throwaway_database  # noqa: E402

BENCHMARKS = {
    "lifecycle": lifecycle.run,
    "ingestion": ingestion.run,
    "reporting": reporting.run,
    "classification": classification.run,
    "workspace": workspace.run,
    "load": load.run,
}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHMARKS, []], help="benchmarks to run (default: all)")
    args = parser.parse_args()
    vendor = connection.vendor
    print(f"database: {vendor} ({connection.settings_dict['NAME']}), cores: {os.cpu_count()}")
    if vendor != "postgresql":
        print("note: DATABASE_URL is not PostgreSQL; figures are not comparable to production.")
    failed = []
    for name in args.names or BENCHMARKS:
        print(f"\n== {name}: {BENCHMARKS[name].__module__} ==", flush=True)
        # Each benchmark starts from an empty database of its own.
        with throwaway_database():
            try:
                timings = BENCHMARKS[name]()
            except BenchmarkFailed as failure:
                print(f"FAILED: {failure}", flush=True)
                failed.append(name)
                continue
            for timing in timings:
                print(timing.report(), flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
