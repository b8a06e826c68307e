"""Two people, or a double click, acting on one opportunity at once yield exactly one transition."""

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection

from leads.errors import FunnelError
from leads.models import StageTransition
from opportunities.models import Opportunity
from opportunities.services import meeting_book, opportunity_disqualify, opportunity_qualify, opportunity_win
from tests.funnel_helpers import CRM, book, days_ago, make_ql

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 8


def race(actions: list[Callable[[], object]]) -> tuple[list[object], list[Exception]]:
    """Run the actions in threads released together; return their results and their errors."""
    start = threading.Barrier(len(actions))
    results: list[object] = []
    errors: list[Exception] = []
    lock = threading.Lock()

    def run(action: Callable[[], object]) -> None:
        try:
            start.wait()
            outcome = action()
            with lock:
                results.append(outcome)
        except Exception as error:
            with lock:
                errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(action,)) for action in actions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


def opportunity_log(opportunity: Opportunity) -> list[str]:
    rows = StageTransition.objects.filter(object_type="opportunity", object_id=opportunity.pk).order_by("id")
    return [row.to_stage for row in rows]


def test_many_qualify_clicks_make_one_transition():
    make_ql()
    opportunity = book()

    results, errors = race([lambda: opportunity_qualify(opportunity_id=opportunity.pk, actor=CRM)] * THREADS)

    assert len(results) == 1
    assert len(errors) == THREADS - 1
    assert all(isinstance(error, FunnelError) for error in errors), errors
    assert opportunity_log(opportunity) == ["open", "qualified"]


def test_win_racing_disqualify_yields_exactly_one_outcome():
    make_ql()
    opportunity = book()
    win = lambda: opportunity_win(opportunity_id=opportunity.pk, actor=CRM, amount=Decimal(500))  # noqa: E731
    disqualify = lambda: opportunity_disqualify(opportunity_id=opportunity.pk, actor=CRM, reason="not_icp")  # noqa: E731

    results, errors = race([win, disqualify] * (THREADS // 2))

    assert len(results) == 1
    assert all(isinstance(error, FunnelError) for error in errors), errors
    final = Opportunity.objects.get(pk=opportunity.pk)
    assert final.stage in {"won", "disqualified"}
    expected = ["open", "qualified", "won"] if final.stage == "won" else ["open", "disqualified"]
    assert opportunity_log(opportunity) == expected
    episode_ends = StageTransition.objects.filter(object_type="episode", from_stage="open")
    assert episode_ends.count() == 1


def test_concurrent_bookings_for_one_lead_open_one_opportunity():
    make_ql()

    def booking(n: int) -> Callable[[], object]:
        return lambda: meeting_book(email="ada@acme.example", actor=CRM, booked_at=days_ago(1), external_id=f"cal-{n}")

    results, errors = race([booking(n) for n in range(THREADS)])

    assert errors == []
    assert sum(1 for result in results if result.created) == 1
    assert Opportunity.objects.count() == 1
    assert StageTransition.objects.filter(object_type="opportunity").count() == 1
