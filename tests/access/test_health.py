"""Liveness and readiness probes: what a load balancer and the container healthcheck see."""

import socket
from typing import Any, NoReturn

import pytest
from django.conf import settings
from django.db import OperationalError, connections

from funnel.celery import app as celery_app


def closed_port() -> int:
    """A local TCP port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthz_answers_without_login_and_without_a_database(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_readyz_is_ok_when_the_database_and_the_broker_answer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}
    # With REDIS_URL set the broker check above really connected to Redis.
    assert celery_app.conf.task_always_eager is not bool(settings.REDIS_URL)


@pytest.fixture
def broker_on_a_closed_port(monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    return url


@pytest.mark.django_db
def test_readyz_names_the_broker_when_it_is_down(client, broker_on_a_closed_port):
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "broker": "down"}}


@pytest.mark.django_db
def test_readyz_names_the_database_when_it_is_down(client, monkeypatch):
    def refuse(*args: Any, **kwargs: Any) -> NoReturn:
        raise OperationalError("connection to server at 127.0.0.1, port 5432 failed: Connection refused")

    monkeypatch.setattr(connections["default"], "cursor", refuse)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "down", "broker": "ok"}}
