"""Hypothesis profiles of the fuzz suite: small under `make test`, large under `make fuzz`.

HYPOTHESIS_PROFILE picks one (`fuzz-default` when unset). Hypothesis binds settings when a test is
decorated, so each fuzz test carries ``@FUZZ_SETTINGS`` instead of this module loading a global
profile: the other property tests keep Hypothesis' defaults.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction
from hypothesis import HealthCheck, settings

# Seeded data and the Django test client make examples slow and fixtures function-scoped on purpose.
_HEALTH_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]

settings.register_profile("fuzz-default", max_examples=12, deadline=None, suppress_health_check=_HEALTH_CHECKS)
settings.register_profile("fuzz", max_examples=300, deadline=None, suppress_health_check=_HEALTH_CHECKS)

FUZZ_SETTINGS = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "fuzz-default"))


@contextmanager
def rolled_back() -> Iterator[None]:
    """One Hypothesis example's writes, undone afterwards: examples share the test's database otherwise."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)
