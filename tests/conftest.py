import os
from collections.abc import Callable

import pytest
import redis
from django.conf import settings
from django.contrib.auth.models import User

from access.services import user_set_role

IN_CI = os.environ.get("CI", "").strip().lower() == "true"


def require_service(available: bool, what: str) -> None:
    """Outside CI a missing service skips the test; in CI it fails it, so nothing passes unseen."""
    if available:
        return
    message = f"{what} is not available"
    if IN_CI:
        pytest.fail(f"{message}, and CI must run this test.")
    pytest.skip(f"{message}; set it up to run this test.")


def redis_available() -> bool:
    if not settings.REDIS_URL:
        return False
    try:
        return bool(redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@pytest.fixture(autouse=True)
def _required_services(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("postgres") or request.node.get_closest_marker("faults"):
        is_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
        require_service(is_postgres, "PostgreSQL (DATABASE_URL=postgres://...)")
    if request.node.get_closest_marker("celery_worker") or request.node.get_closest_marker("faults"):
        require_service(redis_available(), "Redis (REDIS_URL=redis://...)")


@pytest.fixture
def make_user(db: None) -> Callable[..., User]:
    def make(username: str = "user", role: str = "analyst", password: str = "a-long-test-password") -> User:
        user, _ = user_set_role(username=username, role=role, password=password)
        return user

    return make
