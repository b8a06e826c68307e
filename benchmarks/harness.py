"""A throwaway database per run, and timing helpers that print comparable figures."""

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection


class BenchmarkFailed(Exception):
    """A benchmark ran, but what it checks did not hold: `make bench` exits non-zero."""


@contextmanager
def throwaway_database() -> Iterator[str]:
    """Create a fresh, migrated database next to the configured one, and drop it afterwards."""
    name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    try:
        yield name
    finally:
        connection.creation.destroy_test_db(name, verbosity=0)


@dataclass
class Timings:
    label: str
    seconds: list[float] = field(default_factory=list)

    @contextmanager
    def measure(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds.append(time.perf_counter() - started)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]

    def report(self) -> str:
        total = sum(self.seconds)
        return (
            f"{self.label:<32} n={len(self.seconds):>6}  {len(self.seconds) / total:>9.0f}/s  "
            f"p50 {statistics.median(self.seconds) * 1000:6.2f} ms  p95 {self.percentile(0.95) * 1000:6.2f} ms"
        )
