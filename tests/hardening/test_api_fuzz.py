"""API fuzzing: schemathesis against Townhall's own OpenAPI document (/api/openapi.json).

Every operation and method of the document gets generated requests, valid and invalid
(schemathesis' positive and negative modes), and every answer must be no server error, a status
code the document declares for the operation, and a body that fits the schema declared for that
status. Then the stateful run follows the document's links (POST /comments → the comment's
replies, edit, delete, vote, flag) in random sequences.

In process, through Django's WSGI application: requests run on this thread, in the test's
transaction, against the test database, like Django's test client. (The ASGI application adds
the live streams and the thread-read fast path in front of the same Django; tests/live and
tests/discussions/test_hotpath.py cover those layers.)

Repeatable: Hypothesis is derandomized, keeps no example database and does not shrink, so a
run tries the same requests every time; a failure names the operation and prints the request
as a curl command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from django.test import TestCase
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ARTICLE, ORIGIN, _forget_everything_cached
from townhall.config.wsgi import application
from townhall.support.actions import do_create_campaign
from townhall.support.models import Checkout

pytestmark = pytest.mark.django_db

SCHEMA_CHECKS = [response_schema_conformance, status_code_conformance]
CHECKS = [not_a_server_error, *SCHEMA_CHECKS]
# Served by the ASGI layer (live.streams) as an endless text/event-stream; Django, reached here
# without that layer, answers it with a declared `503 live_unavailable` by design. So this one
# operation is checked against its declared statuses and schemas, not for "no 5xx"; the stream
# itself, which never ends, is tested with bounded reads in tests/live/test_streams.py.
EVENTS_PATH = "/api/v1/threads/{thread_id}/events"

FUZZ_SETTINGS = settings(
    max_examples=100,
    phases=[Phase.explicit, Phase.generate],
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
STATEFUL_SETTINGS = settings(
    FUZZ_SETTINGS,
    max_examples=60,
    stateful_step_count=6,
)


class World:
    """What the generated requests may point at: a site whose origin is allowed, a comment
    with its edit token, a campaign that takes (test-mode) contributions."""

    def __init__(self, site, comment_id: int, token: str, campaign_slug: str):
        self.site = site
        self.comment_id = comment_id
        self.token = token
        self.campaign_slug = campaign_slug

    def point_at_site(self, case: Any) -> None:
        """Random slugs and URLs would only ever meet `404 unknown_site`; these reach the
        code behind it."""
        for where in (case.query, case.body):
            if isinstance(where, dict):
                if "site" in where:
                    where["site"] = self.site.slug
                if isinstance(where.get("url"), str):
                    where["url"] = ARTICLE
        if isinstance(case.path_parameters, dict) and "site" in case.path_parameters:
            case.path_parameters["site"] = self.site.slug

    def point_at_everything(self, case: Any) -> None:
        self.point_at_site(case)
        path = case.path_parameters if isinstance(case.path_parameters, dict) else {}
        if "comment_id" in path:
            path["comment_id"] = self.comment_id
        if "slug" in path:
            path["slug"] = self.campaign_slug


@pytest.fixture
def world(make_site, api, settings) -> World:
    # Limits are tested on their own (tests/*/test_api_*.py); here they would turn most of the
    # requests into 429s.
    settings.RATELIMIT_ENABLE = False
    site = make_site(slug="news")
    posted = api.comment(site, "The first comment.", origin=ORIGIN)
    assert posted.status_code == 201, posted.content
    campaign = do_create_campaign(
        site, slug="fund", title="Our fund", currency="usd", goal=100_000, checkout=Checkout.TEST
    )
    return World(site, posted.json()["comment"]["id"], posted.json()["edit_token"], campaign.slug)


# Loaded once, as the tests are collected (the document needs no database). Not through a
# fixture (schemathesis.pytest.from_fixture): that loader does not run under pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@contextmanager
def _undone() -> Iterator[None]:
    """Each example (each stateful scenario) starts from the fixture's world: Hypothesis runs a
    failing example again to report it, and it must meet the same state."""
    try:
        with transaction.atomic():
            yield
            transaction.set_rollback(True)
    finally:
        _forget_everything_cached()


def _call(case: Any, **kwargs: Any) -> Any:
    # As Django's test client does: the WSGI handler closes the database connection as a
    # request starts and ends, which would end the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        # Tests never commit; run what writes defer to commit (live events, cache versions,
        # mail), so those run on fuzzed input too.
        with TestCase.captureOnCommitCallbacks(execute=True):
            return case.call(**kwargs)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@FUZZ_SETTINGS
@schema.parametrize()
@schema.given(aimed=st.booleans(), signed_in=st.booleans())
def test_every_operation(case, aimed: bool, signed_in: bool, world: World) -> None:
    if aimed:
        world.point_at_everything(case)
    # Browsers send an Origin; the site allows this one, so writes get past the origin check.
    headers = {"Origin": ORIGIN}
    if signed_in:
        headers["Authorization"] = f"Bearer {world.token}"
    with _undone():
        response = _call(case, headers=headers)
    if case.operation.path == EVENTS_PATH:
        case.validate_response(response, checks=SCHEMA_CHECKS)
        if response.status_code >= 500:
            assert response.json()["error"]["code"] == "live_unavailable"
        return
    case.validate_response(response, checks=CHECKS)


def test_linked_operations(world: World) -> None:
    """Sequences that follow the document's links from a posted comment, with its edit token."""
    base = schema.exclude(path=EVENTS_PATH).as_state_machine()

    class Readers(base):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            self.token: str | None = None
            self.scenario = _undone()
            self.scenario.__enter__()

        def teardown(self) -> None:
            self.scenario.__exit__(None, None, None)

        def before_call(self, case: Any) -> None:
            world.point_at_site(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            headers = {"Origin": ORIGIN}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            return {"headers": headers}

        def call(self, case: Any, **kwargs: Any) -> Any:
            return _call(case, **kwargs)

        def after_call(self, response: Any, case: Any) -> None:
            if case.operation.path == "/api/v1/comments" and response.status_code in (201, 202):
                self.token = response.json()["edit_token"]

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Readers.run(settings=STATEFUL_SETTINGS)
