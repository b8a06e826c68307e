"""Webhook providers retry and do not keep order: every event twice, out of order, or twice at once.

Deliveries go through the real endpoints with valid signatures. Each scenario runs twice on the
same database, in order and reordered, for leads that differ only by a run tag, and the two final
states (leads, activities, episodes, opportunities and the transition log) must be the same.
tests/integrations covers a single redelivery of each event and Segment calls waiting for their
identify; this file covers reordering and concurrency.
"""

import base64
import copy
import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client

from funnel.celery import app as celery_app
from integrations.services import integration_create
from leads.models import Account, Activity, Lead, Qualification, StageTransition
from leads.services import leads_classify, ruleset_create, ruleset_publish, ruleset_reevaluate
from opportunities.models import Opportunity
from tests.funnel_helpers import days_ago
from tests.integrations.test_webhooks import calendly_post, hubspot_post, intercom_post, raw
from tests.leads.test_scoring import DOCUMENT

pytestmark = pytest.mark.faults

Delivery = Callable[[Client], Any]


@pytest.fixture
def signing_keys(db: None) -> dict[str, str]:
    return {kind: integration_create(kind=kind, name="faults").secret for kind in ("calendly", "hubspot", "intercom")}


@pytest.fixture
def segment_key(db: None) -> str:
    return integration_create(kind="segment", name="faults").secret


@pytest.fixture
def active_rules(db: None) -> None:
    """The documented ruleset, so that deliveries open QL episodes, plus a company that fits it."""
    ruleset = ruleset_create(document=copy.deepcopy(DOCUMENT))
    ruleset_reevaluate(job_id=ruleset_publish(ruleset_id=ruleset.pk, actor_name="faults").pk)
    Account.objects.create(domain="acme.example", name="Acme", employee_count=200, industry="software")


def deliver_all(client: Client, deliveries: list[Delivery], *, classify_between: bool) -> None:
    """Delivers in the given order, then lets the worker classify the touched leads.

    With ``classify_between`` the worker keeps up and classifies after every delivery.
    """
    for delivery in deliveries:
        response = delivery(client)
        assert response.status_code == 200, response.content
        if classify_between:
            classify_touched_leads()
    classify_touched_leads()


def classify_touched_leads() -> None:
    touched = Lead.objects.filter(classification_requested_at__isnull=False).values_list("pk", flat=True)
    leads_classify(lead_ids=list(touched))


def funnel_state(tag: str) -> dict[str, Any]:
    """Everything the deliveries for ``tag``'s leads changed, without ids, with the tag masked."""
    leads = Lead.objects.filter(email__contains=tag)

    def moment(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    state = {
        "leads": sorted(
            [
                lead.email,
                lead.source,
                lead.stage,
                moment(lead.created_at),
                lead.first_name,
                lead.last_name,
                lead.title,
                lead.traits,
                lead.account.domain if lead.account else None,
                lead.bucket,
            ]
            for lead in leads.select_related("account")
        ),
        "activities": sorted(
            [a.lead.email, a.kind, a.name, moment(a.occurred_at), a.source_system, a.external_id, a.properties]
            for a in Activity.objects.filter(lead__in=leads).select_related("lead")
        ),
        "episodes": sorted(
            [q.lead.email, q.stage, moment(q.qualified_at), moment(q.ended_at), q.source, q.bucket]
            for q in Qualification.objects.filter(lead__in=leads).select_related("lead")
        ),
        "opportunities": sorted(
            [
                o.lead.email,
                o.stage,
                moment(o.created_at),
                moment(o.scheduled_for),
                o.bucket,
                o.external_id,
                moment(o.qualification.qualified_at) if o.qualification else None,
            ]
            for o in Opportunity.objects.filter(lead__in=leads).select_related("lead", "qualification")
        ),
        "transitions": sorted(
            [t.lead.email, t.object_type, t.from_stage, t.to_stage, moment(t.effective_at), t.actor_name]
            for t in StageTransition.objects.filter(lead__in=leads).select_related("lead")
        ),
    }
    return json.loads(json.dumps(state, sort_keys=True).replace(tag, "<run>"))


def same_state_in_any_order(
    in_order: Callable[[str], list[Delivery]],
    reorder: Callable[[list[Delivery]], list[Delivery]],
    *,
    classify_between: bool = False,
) -> dict[str, Any]:
    client = Client()
    deliver_all(client, in_order("inorder"), classify_between=classify_between)
    deliver_all(client, reorder(in_order("reordered")), classify_between=classify_between)
    expected, reordered = funnel_state("inorder"), funnel_state("reordered")
    assert reordered == expected
    return expected


def twice_each(deliveries: list[Delivery]) -> list[Delivery]:
    return [delivery for delivery in deliveries for _ in range(2)]


# Calendly


def calendly_event(event: str, *, email: str, invitee: str, booked_at: datetime, **extra: Any) -> bytes:
    payload = json.loads(raw("calendly_invitee_created.json"))
    payload["event"] = event
    payload["payload"].update(
        {
            "email": email,
            "uri": f"https://api.calendly.com/scheduled_events/EV/invitees/{invitee}",
            "created_at": booked_at.isoformat(),
            "updated_at": booked_at.isoformat(),
            **extra,
        }
    )
    return json.dumps(payload).encode()


def calendly(secret: str, body: bytes) -> Delivery:
    return lambda client: calendly_post(client, body, secret)


def calendly_booking_then_cancellation(secret: str) -> Callable[[str], list[Delivery]]:
    def deliveries(tag: str) -> list[Delivery]:
        email, invitee, booked_at = f"jane.{tag}@acme.example", f"{tag}-1", days_ago(3)
        cancellation = {"reason": "Conflict", "created_at": days_ago(2).isoformat()}
        return [
            calendly(secret, calendly_event("invitee.created", email=email, invitee=invitee, booked_at=booked_at)),
            calendly(
                secret,
                calendly_event(
                    "invitee.canceled",
                    email=email,
                    invitee=invitee,
                    booked_at=booked_at,
                    cancellation=cancellation,
                    status="canceled",
                ),
            ),
        ]

    return deliveries


def test_calendly_cancellation_before_its_booking_ends_as_in_order(signing_keys, active_rules):
    state = same_state_in_any_order(
        calendly_booking_then_cancellation(signing_keys["calendly"]), lambda events: twice_each(events[::-1])
    )

    assert [lead[:4] for lead in state["leads"]] == [
        ["jane.<run>@acme.example", "inbound", "opportunity", days_ago(3).isoformat()]
    ]
    assert [(a[1], a[2]) for a in state["activities"]] == [("meeting", "Meeting Booked"), ("other", "Meeting Canceled")]
    assert len(state["opportunities"]) == 1


def calendly_reschedule(secret: str) -> Callable[[str], list[Delivery]]:
    """Calendly reschedules by canceling the invitee and creating a new one, in either order."""

    def deliveries(tag: str) -> list[Delivery]:
        email = f"raj.{tag}@acme.example"
        old, new = f"{tag}-old", f"{tag}-new"
        new_uri = f"https://api.calendly.com/scheduled_events/EV/invitees/{new}"
        return [
            calendly(secret, calendly_event("invitee.created", email=email, invitee=old, booked_at=days_ago(5))),
            calendly(
                secret,
                calendly_event(
                    "invitee.canceled",
                    email=email,
                    invitee=old,
                    booked_at=days_ago(5),
                    rescheduled=True,
                    new_invitee=new_uri,
                    cancellation={"reason": "Rescheduled", "created_at": days_ago(4).isoformat()},
                ),
            ),
            calendly(secret, calendly_event("invitee.created", email=email, invitee=new, booked_at=days_ago(4))),
        ]

    return deliveries


def test_a_calendly_reschedule_with_its_cancel_and_new_booking_swapped_ends_as_in_order(signing_keys, active_rules):
    state = same_state_in_any_order(
        calendly_reschedule(signing_keys["calendly"]), lambda events: twice_each([events[0], events[2], events[1]])
    )

    assert [(o[2], o[5]) for o in state["opportunities"]] == [
        (days_ago(5).isoformat(), "https://api.calendly.com/scheduled_events/EV/invitees/<run>-old")
    ]
    assert sorted(a[2] for a in state["activities"]) == ["Meeting Booked", "Meeting Booked", "Meeting Canceled"]


# HubSpot and Intercom


def hubspot_submission(*, email: str, form: str, submitted_at: datetime, submission_id: str) -> bytes:
    payload = json.loads(raw("hubspot_forms_v3_submission.json"))
    payload["fields"] = [{"objectTypeId": "0-1", "name": "email", "value": email}]
    payload["submittedAt"] = str(int(submitted_at.timestamp() * 1000))
    payload["submissionId"] = submission_id
    payload["formName"] = form
    return json.dumps(payload).encode()


def hubspot_submissions(secret: str) -> Callable[[str], list[Delivery]]:
    def deliveries(tag: str) -> list[Delivery]:
        email = f"ada.{tag}@acme.example"
        forms = [("Newsletter", days_ago(9)), ("Demo Request", days_ago(6)), ("Contact Sales", days_ago(4))]
        return [
            hubspot(secret, hubspot_submission(email=email, form=form, submitted_at=at, submission_id=f"{tag}-{n}"))
            for n, (form, at) in enumerate(forms)
        ]

    return deliveries


def hubspot(secret: str, body: bytes) -> Delivery:
    return lambda client: hubspot_post(client, body, secret)


def test_hubspot_submissions_redelivered_newest_first_end_as_in_order(signing_keys, active_rules):
    state = same_state_in_any_order(
        hubspot_submissions(signing_keys["hubspot"]), lambda events: twice_each(events[::-1])
    )

    assert [a[2] for a in state["activities"]] == ["Contact Sales", "Demo Request", "Newsletter"]
    assert [lead[3] for lead in state["leads"]] == [days_ago(9).isoformat()]


def test_an_earlier_qualifying_form_delivered_after_the_lead_qualified_is_kept_and_the_episode_stays(
    signing_keys, active_rules
):
    """FUNNEL.md: existing episodes are never rewritten, so a late touch cannot move a QL earlier.

    Replay places a late touch in its week only while the lead has not qualified yet; once the
    worker has opened an episode on a later touch, the earlier one is stored and the episode stays.
    """
    client = Client()
    deliveries = hubspot_submissions(signing_keys["hubspot"])
    deliver_all(client, deliveries("late")[::-1], classify_between=True)
    deliver_all(client, deliveries("caught-up")[::-1], classify_between=False)

    late, caught_up = funnel_state("late"), funnel_state("caught-up")
    assert [a[2] for a in late["activities"]] == ["Contact Sales", "Demo Request", "Newsletter"]
    assert [(e[2], e[4]) for e in late["episodes"]] == [(days_ago(4).isoformat(), "inbound")]
    assert [(e[2], e[4]) for e in caught_up["episodes"]] == [(days_ago(6).isoformat(), "inbound")]


def intercom_conversation(*, email: str, conversation_id: str, started_at: datetime) -> bytes:
    payload = json.loads(raw("intercom_conversation_notification.json"))
    item = payload["data"]["item"]
    item["id"] = conversation_id
    item["created_at"] = int(started_at.timestamp())
    item["source"]["author"] = {"type": "user", "id": "1", "name": "Ada", "email": email}
    return json.dumps(payload).encode()


def intercom_conversations(secret: str) -> Callable[[str], list[Delivery]]:
    def deliveries(tag: str) -> list[Delivery]:
        email = f"bo.{tag}@acme.example"
        return [
            intercom(
                secret, intercom_conversation(email=email, conversation_id=f"{tag}-{n}", started_at=days_ago(days))
            )
            for n, days in enumerate([8, 3])
        ]

    return deliveries


def intercom(secret: str, body: bytes) -> Delivery:
    return lambda client: intercom_post(client, body, secret)


def test_intercom_conversations_redelivered_newest_first_end_as_in_order(signing_keys, active_rules):
    state = same_state_in_any_order(
        intercom_conversations(signing_keys["intercom"]), lambda events: twice_each(events[::-1])
    )

    assert [a[5] for a in state["activities"]] == ["conversation:<run>-0", "conversation:<run>-1"]
    assert [(e[2], e[4]) for e in state["episodes"]] == [(days_ago(8).isoformat(), "chat")]


# Segment


def segment_call(key: str, kind: str, body: dict[str, Any]) -> Delivery:
    """A call as the SDKs send it: HTTP Basic with the write key as the user name."""
    authorization = f"Basic {base64.b64encode(f'{key}:'.encode()).decode()}"
    return lambda client: client.post(
        f"/segment/v1/{kind}", body, content_type="application/json", HTTP_AUTHORIZATION=authorization
    )


def segment_calls(key: str) -> Callable[[str], list[Delivery]]:
    """A new user's identify, group and three tracks."""
    call = functools.partial(segment_call, key)

    def deliveries(tag: str) -> list[Delivery]:
        user = f"user-{tag}"
        return [
            call(
                "identify",
                {
                    "userId": user,
                    "messageId": f"{tag}-identify",
                    "timestamp": days_ago(7).isoformat(),
                    "traits": {"email": f"cy.{tag}@acme.example", "firstName": "Cy", "plan": "free"},
                },
            ),
            call(
                "group",
                {
                    "userId": user,
                    "messageId": f"{tag}-group",
                    "groupId": "acme",
                    "timestamp": days_ago(7).isoformat(),
                    "traits": {"name": "Acme", "website": "https://acme.example", "employees": 200},
                },
            ),
            *(
                call(
                    "track",
                    {
                        "userId": user,
                        "messageId": f"{tag}-track-{n}",
                        "event": "Workspace Limit Reached",
                        "timestamp": days_ago(days).isoformat(),
                    },
                )
                for n, days in enumerate([6, 5, 4])
            ),
        ]

    return deliveries


def test_segment_tracks_and_group_before_identify_redelivered_end_as_in_order(segment_key, active_rules):
    state = same_state_in_any_order(segment_calls(segment_key), lambda calls: twice_each(calls[::-1]))

    assert [lead[:2] + lead[7:9] for lead in state["leads"]] == [
        ["cy.<run>@acme.example", "other", {"plan": "free"}, "acme.example"]
    ]
    assert [a[5] for a in state["activities"]] == ["<run>-track-0", "<run>-track-1", "<run>-track-2"]


def segment_identify(key: str, *, user: str, message_id: str, at: datetime, traits: dict[str, Any]) -> Delivery:
    body = {"userId": user, "messageId": message_id, "timestamp": at.isoformat(), "traits": traits}
    return segment_call(key, "identify", body)


def segment_profile_updates(key: str) -> Callable[[str], list[Delivery]]:
    def deliveries(tag: str) -> list[Delivery]:
        email = f"di.{tag}@acme.example"
        return [
            segment_identify(
                key,
                user=f"user-{tag}",
                message_id=f"{tag}-first",
                at=days_ago(7),
                traits={"email": email, "firstName": "Di", "title": "Engineer", "plan": "free", "seats": 3},
            ),
            segment_identify(
                key,
                user=f"user-{tag}",
                message_id=f"{tag}-second",
                at=days_ago(2),
                traits={"email": email, "title": "VP Engineering", "plan": "pro"},
            ),
        ]

    return deliveries


def test_segment_identifies_delivered_newest_first_leave_the_newest_profile(segment_key, active_rules):
    state = same_state_in_any_order(segment_profile_updates(segment_key), lambda calls: twice_each(calls[::-1]))

    assert [lead[3:8] for lead in state["leads"]] == [
        [days_ago(7).isoformat(), "Di", "", "VP Engineering", {"plan": "pro", "seats": 3}]
    ]


# Two deliveries of the same event at the same moment


@pytest.fixture
def private_task_queue() -> Iterator[None]:
    """Tasks published after these tests' commits go to a queue no worker reads, deleted afterwards."""
    default = celery_app.conf.task_default_queue
    queue = f"faults-webhooks-{uuid.uuid4().hex[:12]}"
    celery_app.conf.task_default_queue = queue
    try:
        yield
    finally:
        celery_app.conf.task_default_queue = default
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)


def at_once(delivery: Delivery, times: int = 2) -> list[Any]:
    """Runs the same delivery from several threads released together; each thread has its own connection."""
    start = threading.Barrier(times)
    responses: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait(timeout=10)
            responses.append(delivery(Client()))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    return responses


concurrent = pytest.mark.django_db(transaction=True)


@concurrent
@pytest.mark.usefixtures("private_task_queue")
def test_one_calendly_booking_delivered_twice_at_once_books_one_opportunity(signing_keys):
    booking = calendly_booking_then_cancellation(signing_keys["calendly"])("twice")[0]

    responses = at_once(booking)

    opportunity = Opportunity.objects.get()
    assert sorted(r.json()["created"] for r in responses) == [False, True]
    assert {r.json()["opportunity_id"] for r in responses} == {opportunity.pk}
    assert Activity.objects.filter(kind="meeting").count() == 1


@concurrent
@pytest.mark.usefixtures("private_task_queue")
@pytest.mark.parametrize("kind", ["hubspot", "intercom", "calendly_cancel"])
def test_one_activity_webhook_delivered_twice_at_once_records_one_activity(signing_keys, kind):
    delivery = {
        "hubspot": lambda: hubspot_submissions(signing_keys["hubspot"])("twice")[1],
        "intercom": lambda: intercom_conversations(signing_keys["intercom"])("twice")[0],
        "calendly_cancel": lambda: calendly_booking_then_cancellation(signing_keys["calendly"])("twice")[1],
    }[kind]()

    responses = at_once(delivery)

    activity = Activity.objects.get()
    assert [r.status_code for r in responses] == [200, 200]
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True]
    assert {r.json()["id"] for r in responses} == {activity.pk}
    assert Lead.objects.count() == 1


@concurrent
@pytest.mark.usefixtures("private_task_queue")
def test_one_segment_track_delivered_twice_at_once_records_one_activity(segment_key):
    identify, _group, track, *_ = segment_calls(segment_key)("twice")
    assert identify(Client()).status_code == 200

    responses = at_once(track)

    assert [r.status_code for r in responses] == [200, 200]
    assert sorted((r.json()["created"], r.json()["duplicates"]) for r in responses) == [(0, 1), (1, 0)]
    assert Activity.objects.count() == 1
