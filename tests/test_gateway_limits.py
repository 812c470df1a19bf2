"""Rate limits of their own per API key and team, end to end through the OpenAI-compatible route: set at
creation or later by an admin, stored in the database, carried by the identity cache to every replica,
overriding the settings' defaults; and who may set them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aifactory.identity.records import KeyIn, LimitsIn, TeamIn
from aifactory.runtime import Runtime
from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import LiveServer, run_server
from gateway_helpers import deployment, publish, wait_for_route

ROUTE = "chat-limited"


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def serve_route(live: LiveServer, fake: FakeProvider) -> None:
    """Publish a priced deployment of the fake and a route to it."""
    publish(live, "deployment", "fake-limited", deployment(fake.url))
    publish(live, "route", ROUTE, {"candidates": [{"deployment": "fake-limited"}]})


def principal(live: LiveServer, name: str, team: str | None = None) -> None:
    """An app principal (in `team`) that may call the gateway."""
    body: dict[str, Any] = {"name": name, "kind": "app", "roles": ["app"]} | ({"team": team} if team else {})
    live.client().post("/v1/principals", json=body).raise_for_status()


def new_key(live: LiveServer, owner: str, **limits: int) -> dict[str, Any]:
    """A key for `owner`, made by the admin, with limits of its own if given."""
    created = live.client().post("/v1/keys", json={"name": "limited", "principal": owner} | limits)
    assert created.status_code == 201, created.text
    return dict(created.json())


def chat(live: LiveServer, key: str) -> httpx.Response:
    return live.client(key).post(
        "/v1/chat/completions",
        json={"model": ROUTE, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    )


def statuses(live: LiveServer, key: str, count: int) -> list[int]:
    return [chat(live, key).status_code for _ in range(count)]


def assert_refused(response: httpx.Response, subject: str) -> None:
    """A 429 from our own rate limit, in OpenAI's shape, naming the limit and when to retry."""
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded"
    assert error["type"] == "rate_limit_error"
    assert error["subject"] == subject
    assert error["limit"] == "requests_per_minute"
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["x-aifactory-run-id"].startswith("run_")


def test_a_key_with_rpm_2_is_refused_its_third_call_and_others_are_not(
    live_server: LiveServer, fake: FakeProvider
) -> None:
    serve_route(live_server, fake)
    principal(live_server, "rated-app")
    limited = new_key(live_server, "rated-app", rpm_limit=2)
    assert (limited["rpm_limit"], limited["tpm_limit"]) == (2, None)
    other = new_key(live_server, "rated-app")
    assert (other["rpm_limit"], other["tpm_limit"]) == (None, None)
    wait_for_route(live_server, limited["key"], ROUTE)  # /v1/models is not rate limited

    assert statuses(live_server, limited["key"], 2) == [200, 200]
    refused = chat(live_server, limited["key"])
    assert_refused(refused, f"key:{limited['id']}")
    assert statuses(live_server, other["key"], 5) == [200] * 5  # same owner, another key

    # An admin lifts the limit: the next call goes through at once (this replica reloads on its
    # own change; the others through the change feed).
    admin = live_server.client()
    lifted = admin.patch(f"/v1/keys/{limited['prefix']}", json={"rpm_limit": 100})
    assert lifted.status_code == 200, lifted.text
    assert (lifted.json()["rpm_limit"], lifted.json()["tpm_limit"]) == (100, None)
    assert chat(live_server, limited["key"]).status_code == 200
    tokens = admin.patch(f"/v1/keys/{limited['id']}", json={"tpm_limit": 50_000})
    assert (tokens.json()["rpm_limit"], tokens.json()["tpm_limit"]) == (100, 50_000)  # rpm stays
    back = admin.patch(f"/v1/keys/{limited['id']}", json={"rpm_limit": None, "tpm_limit": None})
    assert (back.json()["rpm_limit"], back.json()["tpm_limit"]) == (None, None)
    listed = {k["id"]: k for k in admin.get("/v1/keys", params={"principal": "rated-app"}).json()}
    assert listed[limited["id"]]["rpm_limit"] is None

    events = ledger_events(admin, "key.limits_set", 3)
    assert [e["data"] for e in events] == [
        {"rpm_limit": 100},
        {"tpm_limit": 50_000},
        {"rpm_limit": None, "tpm_limit": None},
    ]
    assert {e["subject"] for e in events} == {f"key:{limited['id']}"}


def test_a_team_limit_counts_every_key_of_the_team(live_server: LiveServer, fake: FakeProvider) -> None:
    serve_route(live_server, fake)
    admin = live_server.client()
    team = admin.post("/v1/teams", json={"name": "rated-team", "rpm_limit": 3})
    assert team.status_code == 201, team.text
    assert team.json()["rpm_limit"] == 3
    principal(live_server, "team-app-1", team="rated-team")
    principal(live_server, "team-app-2", team="rated-team")
    first, second = new_key(live_server, "team-app-1")["key"], new_key(live_server, "team-app-2")["key"]
    wait_for_route(live_server, first, ROUTE)

    assert statuses(live_server, first, 2) + statuses(live_server, second, 1) == [200, 200, 200]
    assert_refused(chat(live_server, second), f"team:{team.json()['id']}")
    assert_refused(chat(live_server, first), f"team:{team.json()['id']}")

    raised = admin.patch("/v1/teams/rated-team", json={"rpm_limit": 1000})
    assert raised.status_code == 200, raised.text
    assert raised.json()["rpm_limit"] == 1000
    assert chat(live_server, second).status_code == 200
    assert [t["rpm_limit"] for t in admin.get("/v1/teams").json() if t["name"] == "rated-team"] == [1000]
    assert [e["data"] for e in ledger_events(admin, "team.limits_set", 1)] == [{"rpm_limit": 1000}]
    created = ledger_events(admin, "team.created", 1)
    assert created[-1]["data"] == {"name": "rated-team", "rpm_limit": 3}


def test_own_limits_override_the_settings_defaults(
    settings: Settings, admin_key: str, fake: FakeProvider
) -> None:
    server, thread, url = run_server(settings.model_copy(update={"gateway_key_rpm": 1}))
    live = LiveServer(url, admin_key, settings)
    try:
        serve_route(live, fake)
        principal(live, "default-app")
        plain = new_key(live, "default-app")["key"]
        roomy = new_key(live, "default-app", rpm_limit=3)["key"]
        wait_for_route(live, plain, ROUTE)
        assert statuses(live, plain, 2) == [200, 429]  # the default: one a minute
        assert statuses(live, roomy, 4) == [200, 200, 200, 429]  # its own: three
    finally:
        live.close()
        server.should_exit = True
        thread.join(timeout=30)


def test_only_admins_and_platform_set_limits(live_server: LiveServer) -> None:
    admin = live_server.client()
    admin.post(
        "/v1/principals", json={"name": "lim-author", "kind": "person", "roles": ["author"]}
    ).raise_for_status()
    author_key = new_key(live_server, "lim-author")
    author = live_server.client(author_key["key"])
    # An author may make their own key, but not give it limits of its own (that could lift a default).
    assert author.post("/v1/keys", json={"name": "mine"}).status_code == 201
    denied = author.post("/v1/keys", json={"name": "mine", "rpm_limit": 10_000})
    assert denied.status_code == 403, denied.text
    assert denied.json()["action"] == "keys.update"
    assert author.patch(f"/v1/keys/{author_key['id']}", json={"rpm_limit": 10_000}).status_code == 403
    assert admin.post("/v1/teams", json={"name": "lim-team"}).status_code == 201
    assert author.patch("/v1/teams/lim-team", json={"rpm_limit": 5}).status_code == 403
    # Bad values name the field; unknown keys and teams are 404; a revoked key's limits are moot.
    for body in ({"rpm_limit": 0}, {"tpm_limit": -1}, {"rpm_limit": 2_000_000_000}, {"name": "x"}):
        refused = admin.patch(f"/v1/keys/{author_key['id']}", json=body)
        assert refused.status_code == 422, (body, refused.text)
    assert admin.patch("/v1/keys/key_missing", json={"rpm_limit": 1}).status_code == 404
    assert admin.patch("/v1/teams/no-such-team", json={"rpm_limit": 1}).status_code == 404
    admin.post(f"/v1/keys/{author_key['id']}/revoke").raise_for_status()
    assert admin.patch(f"/v1/keys/{author_key['id']}", json={"rpm_limit": 1}).status_code == 409
    # Nothing changes without a field: the record comes back as it is, and no event is written.
    unchanged = admin.patch("/v1/teams/lim-team", json={})
    assert unchanged.status_code == 200
    assert (unchanged.json()["name"], unchanged.json()["rpm_limit"]) == ("lim-team", None)
    assert admin.patch("/v1/teams/lim-team", json={"rpm_limit": 5}).json()["rpm_limit"] == 5
    assert [e["data"] for e in ledger_events(admin, "team.limits_set", 1)] == [{"rpm_limit": 5}]


def test_limit_changes_reach_another_replica_through_the_change_feed(runtime: Runtime) -> None:
    other = Runtime.open(runtime.settings)  # a second process on the same database
    try:
        other.watcher.poll()
        team = runtime.directory.create_team(TeamIn(name="feed-team", tpm_limit=900), actor=None)
        owner = runtime.directory.principals()[0]
        key = runtime.directory.create_key(KeyIn(name="feed", rpm_limit=7), owner.id, actor=None)
        assert runtime.directory.rate_limits("key", key.id) == (7, None)
        assert other.directory.rate_limits("key", key.id) == (None, None)  # not yet told
        other.watcher.poll()
        assert other.directory.rate_limits("key", key.id) == (7, None)
        assert other.directory.rate_limits("team", team.id) == (None, 900)
        runtime.directory.set_key_limits(key.prefix, LimitsIn(rpm_limit=None, tpm_limit=40), actor=None)
        runtime.directory.set_team_limits("feed-team", LimitsIn(tpm_limit=None), actor=None)
        other.watcher.poll()
        assert other.directory.rate_limits("key", key.id) == (None, 40)
        assert other.directory.rate_limits("team", team.id) == (None, None)
    finally:
        other.close()


def ledger_events(admin: httpx.Client, kind: str, count: int) -> list[dict[str, Any]]:
    """The ledger's events of `kind`, once there are `count` (events are sequenced shortly after
    they are accepted)."""
    deadline = time.monotonic() + 10
    while True:
        found: list[dict[str, Any]] = []
        start = 0
        while page := admin.get("/v1/ledger/entries", params={"start": start}).json()["entries"]:
            found += [e["event"] for e in page if e["event"]["type"] == kind]
            start += len(page)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.05)
