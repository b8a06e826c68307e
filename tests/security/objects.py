"""The objects the security tests' URLs name, built through the real services."""

import copy
from dataclasses import dataclass

from integrations.services import import_run_create
from leads.services import ruleset_create, ruleset_draft_from, ruleset_publish
from opportunities.services import opportunity_qualify
from tests.funnel_helpers import CRM, book, make_ql
from tests.leads.test_scoring import DOCUMENT

# Which object each path parameter names.
PATH_OBJECTS = {
    "api/v1/jobs/<int:pk>/": "job",
    "api/v1/leads/<int:pk>/": "lead",
    "api/v1/opportunities/<int:pk>/": "open_opportunity",
    "api/v1/opportunities/<int:pk>/qualify/": "open_opportunity",
    "api/v1/opportunities/<int:pk>/disqualify/": "open_opportunity",
    "api/v1/opportunities/<int:pk>/win/": "open_opportunity",
    "api/v1/opportunities/<int:pk>/lose/": "qualified_opportunity",
    "api/v1/rulesets/<int:pk>/": "draft",
    "api/v1/rulesets/<int:pk>/preview/": "draft",
    "api/v1/rulesets/<int:pk>/publish/": "draft",
    "integrations/import/<int:pk>/": "import_run",
    "leads/<int:pk>/": "lead",
    "opportunities/<int:pk>/": "open_opportunity",
    "opportunities/<int:pk>/reassign/": "open_opportunity",
    "opportunities/<int:pk>/<slug:action>/": "open_opportunity",
    "rules/<int:pk>/": "draft",
    "rules/<int:pk>/edit/": "draft",
    "rules/<int:pk>/preview/": "draft",
    "rules/<int:pk>/publish/": "draft",
    "rules/jobs/<int:pk>/": "job",
}
PAGE_ACTION = "qualify"

QUERIES = {
    "dashboard/cells/": "?column=qls&dimension=source&slice=inbound&week=2026-W10",
    "rules/<int:pk>/preview/": "?weeks=1",
}


@dataclass(frozen=True)
class World:
    objects: dict[str, int]

    def path(self, route: str) -> str:
        path = route
        if route in PATH_OBJECTS:
            path = path.replace("<int:pk>", str(self.objects[PATH_OBJECTS[route]]))
            path = path.replace("<slug:action>", PAGE_ACTION)
        return "/" + path + QUERIES.get(route, "")


def build_world() -> World:
    active = ruleset_create(document=copy.deepcopy(DOCUMENT))
    job = ruleset_publish(ruleset_id=active.pk)
    draft = ruleset_draft_from(ruleset_id=active.pk)
    make_ql("ada@acme.example")
    open_opportunity = book("ada@acme.example")
    qualified = book("grace@navy.example", external_id="meeting-2")
    opportunity_qualify(opportunity_id=qualified.pk, actor=CRM)
    import_run = import_run_create(file_name="old.csv", content="email\n", user=None)
    return World(
        {
            "job": job.pk,
            "draft": draft.pk,
            "lead": open_opportunity.lead_id,
            "open_opportunity": open_opportunity.pk,
            "qualified_opportunity": qualified.pk,
            "import_run": import_run.pk,
        }
    )
