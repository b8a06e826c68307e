"""Traffic for `python -m benchmarks load` (benchmarks/load.py sets the LOAD_* variables).

Each simulated user stands for a slice of the day's traffic, by task weight: ingestion 80% (an
integration posting activities one by one, in batches, through Segment, and booking meetings), an
analyst's dashboards 10%, a sales rep's queue work 10%. Analysts and reps log in through the login
form. Every activity carries a fresh idempotency key, a few are deliberately sent again, and each key
a 2xx answer accepted is appended to a file per locust process for the reconciliation.

Requests go to gunicorn on loopback with ``X-Forwarded-Proto: https``, as from the TLS proxy that
production sits behind, so the production settings' secure cookies and CSRF checks apply.
"""

import itertools
import os
import random
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.cookiejar import Cookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from locust import HttpUser, between, task
from locust.clients import HttpSession, ResponseContextManager
from requests.cookies import RequestsCookieJar

SOURCE_SYSTEM = "load"
# Enough people that most activities land on leads seen before, and new ones keep arriving.
PEOPLE = 20_000
COMPANIES = 800
RESEND_SHARE = 0.05
REMEMBERED_KEYS = 500
# Reps race for the top of the queue, as they do when a hot lead comes in.
QUEUE_TOP = 8
REPORT_WEEKS = 12
NAMES = [
    ("product", "Pricing Page Viewed"),
    ("product", "Workspace Limit Reached"),
    ("product", "Signed Up"),
    ("form", "Ebook Download"),
    ("form", "Demo Request"),
    ("chat", "Conversation Started"),
]
NAME_WEIGHTS = [30, 15, 10, 8, 3, 2]
# None while one of this process's users logs in under that name.
SESSIONS: dict[str, HttpSession | None] = {}


class BehindTlsProxy(RequestsCookieJar):
    """Sends the app's Secure cookies back over loopback HTTP: to the app, these requests arrived over HTTPS."""

    def set_cookie(self, cookie: Cookie, *args: Any, **kwargs: Any) -> None:
        cookie.secure = False
        super().set_cookie(cookie, *args, **kwargs)


def person(n: int) -> str:
    return f"person{n}@company{n % COMPANIES}.example"


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def form_token(html: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return found.group(1) if found else ""


def answer(response: ResponseContextManager) -> str:
    """Status and the start of the body, or the connection error when there was no answer."""
    if response.status_code == 0:
        return f"no answer: {response.error!r}"
    return f"{response.status_code}: {response.text[:200] if response.text else ''}"


def signed_in_page(session: HttpSession, path: str, name: str) -> str:
    """The page's text; being sent to the login page instead is a failure, although it answers 200."""
    with session.get(path, name=name, catch_response=True) as response:
        if urlsplit(response.url or "").path == "/accounts/login/":
            response.failure("sent to the login page")
            return ""
        return response.text or ""


def outcome_file(kind: str) -> Path:
    """This process's own file (``--processes`` forks after import, hence the pid at call time)."""
    return Path(os.environ.get("LOAD_OUTCOMES_DIR", ".")) / f"{kind}-{os.getpid()}.txt"


def record_accepted(keys: list[str], source_system: str = SOURCE_SYSTEM) -> None:
    with outcome_file("accepted").open("a") as accepted:
        accepted.write("".join(f"{source_system}\t{key}\n" for key in keys))


class FunnelTraffic(HttpUser):
    wait_time = between(0.05, 0.5)

    def on_start(self) -> None:
        self.key_prefix = uuid.uuid4().hex[:12]
        self.serial = itertools.count()
        self.sent_keys: list[str] = []
        self.client.headers["Authorization"] = f"Token {os.environ['LOAD_TOKEN']}"
        self.client.headers["X-Forwarded-Proto"] = "https"
        self.analyst_name = random.choice(os.environ["LOAD_ANALYSTS"].split(","))
        self.rep_name = random.choice(os.environ["LOAD_REPS"].split(","))

    # Ingestion: 80

    @task(30)
    def post_activity(self) -> None:
        resend = bool(self.sent_keys) and random.random() < RESEND_SHARE
        key = random.choice(self.sent_keys) if resend else self.new_key()
        body = self.activity(key)
        with self.client.post(
            "/api/v1/activities/", json=body, name="POST /api/v1/activities/", catch_response=True
        ) as response:
            expected = 200 if resend else 201
            if response.status_code != expected or response.json().get("duplicate") != resend:
                response.failure(f"expected {expected}, duplicate={resend}; got {answer(response)}")
                return
        self.accept([key])

    @task(30)
    def post_batch(self) -> None:
        resent = random.sample(self.sent_keys, min(len(self.sent_keys), 5))
        fresh = [self.new_key() for _ in range(random.randint(20, 200))]
        items = [self.activity(key) for key in fresh + resent]
        with self.client.post(
            "/api/v1/activities/batch/",
            json={"activities": items},
            name="POST /api/v1/activities/batch/",
            catch_response=True,
        ) as response:
            outcome = response.json() if response.status_code == 200 else {}
            if outcome != {"created": len(fresh), "duplicates": len(resent), "errors": []}:
                response.failure(answer(response))
                return
        self.accept(fresh)

    @task(12)
    def post_segment_batch(self) -> None:
        n = random.randrange(PEOPLE)
        user_id = f"user-{n}"
        keys = [self.new_key() for _ in range(random.randint(5, 40))]
        calls: list[dict[str, Any]] = [
            {"type": "identify", "userId": user_id, "traits": {"email": person(n)}, "messageId": self.new_key()}
        ]
        calls += [
            {
                "type": "track",
                "userId": user_id,
                "event": "Pricing Page Viewed",
                "properties": {"plan": random.choice(["free", "team"])},
                "messageId": key,
                "timestamp": now_iso(),
            }
            for key in keys
        ]
        with self.client.post(
            "/segment/v1/batch",
            json={"batch": calls},
            auth=(os.environ["LOAD_SEGMENT_WRITE_KEY"], ""),
            name="POST /segment/v1/batch",
            catch_response=True,
        ) as response:
            outcome = response.json() if response.status_code == 200 else {}
            if (outcome.get("created"), outcome.get("pending"), outcome.get("errors")) != (len(keys), 0, []):
                response.failure(answer(response))
                return
        record_accepted(keys, source_system="segment")

    @task(8)
    def book_meeting(self) -> None:
        body = {
            "email": person(random.randrange(PEOPLE)),
            # The API refuses timestamps more than a day ahead, scheduled_for included.
            "scheduled_for": (datetime.now(UTC) + timedelta(hours=20)).isoformat(),
            "external_id": self.new_key(),
        }
        with self.client.post(
            "/api/v1/meetings/", json=body, name="POST /api/v1/meetings/", catch_response=True
        ) as response:
            if response.status_code not in (200, 201):
                response.failure(answer(response))

    # An analyst's dashboards: 10

    @task(5)
    def dashboard_page(self) -> None:
        signed_in_page(self.analyst_session(), "/dashboard/", "GET /dashboard/")

    @task(3)
    def weekly_report_api(self) -> None:
        dimension = random.choice(["source", "sub_source", "bucket"])
        path = f"/api/v1/reports/weekly/?{self.report_weeks()}&dimension={dimension}"
        signed_in_page(self.analyst_session(), path, "GET /api/v1/reports/weekly/")

    @task(2)
    def weekly_report_csv(self) -> None:
        path = f"/api/v1/reports/weekly.csv?{self.report_weeks()}&dimension=source"
        signed_in_page(self.analyst_session(), path, "GET /api/v1/reports/weekly.csv")

    # A sales rep's queue: 10

    @task(10)
    def work_the_queue(self) -> None:
        rep = self.rep_session()
        queue = signed_in_page(rep, "/opportunities/queue/", "GET /opportunities/queue/")
        waiting = list(dict.fromkeys(re.findall(r'href="/opportunities/(\d+)/"', queue)))
        if not waiting:
            return
        pk = int(random.choice(waiting[:QUEUE_TOP]))
        if self.act(rep, pk) == "qualify" and random.random() < 0.3:
            self.act(rep, pk)

    def act(self, rep: HttpSession, pk: int) -> str | None:
        """Opens the opportunity and takes one of its actions, through the page form or the API."""
        page = signed_in_page(rep, f"/opportunities/{pk}/", "GET /opportunities/[id]/")
        forms = dict(
            re.findall(rf'action="/opportunities/{pk}/(qualify|disqualify|win|lose)/"(.*?)</form>', page, re.S)
        )
        if not forms:
            return None
        action = random.choices(list(forms), weights=[{"qualify": 6, "disqualify": 2}.get(a, 1) for a in forms])[0]
        reasons = re.findall(r'<option value="([a-z_]+)"', forms[action])
        fields: dict[str, str] = {}
        if reasons:
            fields["reason"] = random.choice(reasons)
        if action == "win":
            fields["amount"] = f"{random.randint(5, 200) * 500}.00"
        if random.random() < 0.5:
            self.act_in_page(rep, pk, action, fields | {"csrfmiddlewaretoken": form_token(forms[action])})
        else:
            self.act_in_api(rep, pk, action, fields)
        return action

    def act_in_page(self, rep: HttpSession, pk: int, action: str, fields: dict[str, str]) -> None:
        with rep.post(
            f"/opportunities/{pk}/{action}/",
            data=fields,
            name=f"POST /opportunities/[id]/{action}/",
            catch_response=True,
        ) as response:
            # A rep who came second sees "Nothing changed", or a 403 once the first one owns it.
            if response.status_code == 403 or "Nothing changed" in response.text:
                self.race(response)

    def act_in_api(self, rep: HttpSession, pk: int, action: str, fields: dict[str, str]) -> None:
        with rep.post(
            f"/api/v1/opportunities/{pk}/{action}/",
            json=fields,
            headers={"X-CSRFToken": rep.cookies.get("csrftoken") or ""},
            name=f"POST /api/v1/opportunities/[id]/{action}/",
            catch_response=True,
        ) as response:
            if response.status_code in (403, 409):
                self.race(response)

    def race(self, response: ResponseContextManager) -> None:
        """Losing a race to another rep is an expected outcome: counted apart, not as an error."""
        response.success()
        with outcome_file("races").open("a") as races:
            races.write(f"{response.request_meta['name']}\n")

    # Helpers

    def new_key(self) -> str:
        return f"{self.key_prefix}-{next(self.serial)}"

    def activity(self, key: str) -> dict[str, Any]:
        kind, name = random.choices(NAMES, weights=NAME_WEIGHTS)[0]
        return {
            "email": person(random.randrange(PEOPLE)),
            "kind": kind,
            "name": name,
            "occurred_at": now_iso(),
            "properties": {"plan": random.choice(["free", "team"])},
            "source_system": SOURCE_SYSTEM,
            "external_id": key,
        }

    def accept(self, keys: list[str]) -> None:
        record_accepted(keys)
        self.sent_keys = (self.sent_keys + keys)[-REMEMBERED_KEYS:]

    def report_weeks(self) -> str:
        today = datetime.now(UTC)
        return f"from={iso_week(today - timedelta(weeks=REPORT_WEEKS - 1))}&to={iso_week(today)}"

    def analyst_session(self) -> HttpSession:
        return self.signed_in(self.analyst_name)

    def rep_session(self) -> HttpSession:
        return self.signed_in(self.rep_name)

    def signed_in(self, username: str) -> HttpSession:
        """People log in once and keep working: users of this process with the same name share a session."""
        if username not in SESSIONS:
            SESSIONS[username] = None
            SESSIONS[username] = self.logged_in(username)
        while (session := SESSIONS[username]) is None:
            time.sleep(0.1)  # locust's gevent makes this yield, to the user who is logging in
        return session

    def logged_in(self, username: str) -> HttpSession:
        """A browser-like session through the login form, with its CSRF token."""
        session = HttpSession(self.host or "", self.environment.events.request, self)
        session.cookies = BehindTlsProxy()
        session.headers["X-Forwarded-Proto"] = "https"
        session.headers["Referer"] = f"https://{urlsplit(self.host or '').netloc}/accounts/login/"
        login = session.get("/accounts/login/", name="GET /accounts/login/")
        credentials = {
            "username": username,
            "password": os.environ["LOAD_PASSWORD"],
            "csrfmiddlewaretoken": form_token(login.text or ""),
        }
        with session.post("/accounts/login/", data=credentials, name="POST /accounts/login/", catch_response=True) as r:
            if urlsplit(r.url or "").path == "/accounts/login/":
                r.failure(f"login as {username} failed")
        return session
