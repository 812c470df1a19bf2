"""Kill switches: the level ladder and scopes, flips in the ledger, who may flip, the gateway's answer
at each level, the CLI, and a flip reaching another server process (PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from typer.testing import CliRunner

from aifactory.cli.main import app as cli_app
from aifactory.errors import InvalidInputError, NotFoundError
from aifactory.gateway.types import ChatRequest
from aifactory.policy.restriction import canned_response, restrict_tools
from aifactory.policy.switch_records import Restriction, SwitchIn
from aifactory.runtime import Runtime
from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, publish, wait_for_route
from test_replicas import replica


def flip(rt: Runtime, scope: str, value: str | None, level: str, **extra: Any) -> None:
    rt.kill_switches.flip(SwitchIn(scope=scope, value=value, level=level, reason="test", **extra), "prn_t")


def ledger_events(rt: Runtime, kind: str) -> list[dict[str, Any]]:
    rt.ledger.sync()
    events = [json.loads(leaf) for _, leaf in rt.ledger.entries(0, rt.ledger.size())]
    return [e for e in events if e["type"] == kind]


# --- the ladder and the scopes -------------------------------------------------------------------


def test_strictest_covering_switch_decides(runtime: Runtime) -> None:
    switches = runtime.kill_switches
    assert switches.level_for("DE", "support").level == "full"
    flip(runtime, "jurisdiction", "eu", "no_tools")
    flip(runtime, "use_case", "support", "no_write_tools")
    assert switches.level_for("DE", "support").level == "no_tools"  # EU covers DE
    assert switches.level_for("FR-75", None).level == "no_tools"  # and its subdivisions
    assert switches.level_for("US", "support").level == "no_write_tools"
    assert switches.level_for("US", "other").level == "full"
    flip(runtime, "global", None, "canned_reply", canned_text="We are back soon.")
    restriction = switches.level_for("US", "other")
    assert (restriction.level, restriction.canned_text) == ("canned_reply", "We are back soon.")
    flip(runtime, "jurisdiction", "DE", "off")
    stopped = switches.level_for("DE", "support")
    assert stopped.level == "off"
    assert stopped.deciding is not None
    assert stopped.deciding.id == "jurisdiction:DE"
    assert [s.id for s in stopped.switches][1:] == ["global", "jurisdiction:EU", "use_case:support"]


def test_clearing_returns_to_full_and_every_flip_is_in_the_ledger(runtime: Runtime) -> None:
    flip(runtime, "use_case", "support", "off")
    flip(runtime, "use_case", "support", "no_tools")
    cleared = runtime.kill_switches.clear("use_case", "support", "resolved", "prn_t")
    assert cleared.level == "full"
    assert runtime.kill_switches.level_for(None, "support").level == "full"
    assert runtime.kill_switches.list() == []
    flips = ledger_events(runtime, "kill_switch.flipped")
    assert [(e["data"]["previous_level"], e["data"]["level"]) for e in flips] == [
        ("full", "off"),
        ("off", "no_tools"),
        ("no_tools", "full"),
    ]
    assert flips[-1]["actor"] == "prn_t"
    assert flips[-1]["data"]["reason"] == "resolved"
    with pytest.raises(NotFoundError):
        runtime.kill_switches.clear("use_case", "support", "again", "prn_t")


def test_deployment_and_tool_switches(runtime: Runtime) -> None:
    flip(runtime, "deployment", "fake-a", "off")
    flip(runtime, "tool", "refund", "off")
    assert runtime.kill_switches.excluded_deployments() == {"fake-a"}
    assert runtime.kill_switches.disabled_tools() == {"refund"}
    assert runtime.kill_switches.level_for("DE", "x").level == "full"  # they stop nothing else


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"scope": "planet", "value": "x", "level": "off"}, "scope"),
        ({"scope": "jurisdiction", "value": "Europe!", "level": "off"}, "jurisdiction code"),
        ({"scope": "use_case", "level": "off"}, "needs a value"),
        ({"scope": "global", "value": "x", "level": "off"}, "takes no value"),
        ({"scope": "global", "level": "dim"}, "level"),
        ({"scope": "global", "level": "canned_reply"}, "canned_text"),
        ({"scope": "global", "level": "off", "canned_text": "hi"}, "canned_text"),
    ],
)
def test_bad_flips_say_what_is_wrong(runtime: Runtime, spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        runtime.kill_switches.flip(SwitchIn(reason="r", **spec), "prn_t")


# --- applying a restriction to a request ---------------------------------------------------------


def _request(**extra: Any) -> ChatRequest:
    tools = [
        {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
        for name in ("lookup", "refund", "mystery")
    ]
    return ChatRequest(model="r", messages=[{"role": "user", "content": "hi"}], tools=tools, **extra)


def test_restriction_levels_strip_tools() -> None:
    from aifactory.policy.tool_specs import ToolSpec

    specs = {
        "lookup": ToolSpec(name="lookup", action="orders.read", resource_kind="Order", side_effect="read"),
        "refund": ToolSpec(
            name="refund", action="payments.refund", resource_kind="Payment", side_effect="write"
        ),
    }
    request = _request(tool_choice={"type": "function", "function": {"name": "refund"}})
    full = restrict_tools(request, Restriction().level, specs.get)
    assert full is request
    no_write = restrict_tools(request, Restriction("no_write_tools").level, specs.get)
    assert isinstance(no_write, ChatRequest)
    assert [t["function"]["name"] for t in no_write.tools or []] == ["lookup"]  # unknown: removed
    assert no_write.tool_choice == "auto"
    none = restrict_tools(request, Restriction("no_tools").level, specs.get)
    assert isinstance(none, ChatRequest)
    assert "tools" not in none.upstream_body("m")
    assert "tool_choice" not in none.upstream_body("m")
    switched = restrict_tools(request, Restriction().level, specs.get, {"lookup"})
    assert isinstance(switched, ChatRequest)
    assert [t["function"]["name"] for t in switched.tools or []] == ["refund", "mystery"]
    canned = canned_response(Restriction("canned_reply", "Sorry."))
    assert canned.text == "Sorry."
    assert canned.usage.total_tokens == 0


# --- over HTTP -----------------------------------------------------------------------------------


def _key(live: LiveServer, name: str, role: str) -> str:
    admin = live.client()
    admin.post("/v1/principals", json={"name": name, "kind": "person", "roles": [role]}).raise_for_status()
    return str(admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"])


def test_who_may_flip_and_list(live_server: LiveServer) -> None:
    body = {"scope": "use_case", "value": "support", "level": "no_tools", "reason": "incident 7"}
    overseer = live_server.client(_key(live_server, "olga", "overseer"))
    auditor = live_server.client(_key(live_server, "aude", "auditor"))
    app = live_server.client(app_key(live_server))
    assert app.post("/v1/kill-switches", json=body).status_code == 403
    assert auditor.post("/v1/kill-switches", json=body).status_code == 403
    flipped = overseer.post("/v1/kill-switches", json=body)
    assert flipped.status_code == 200, flipped.text
    assert flipped.json()["id"] == "use_case:support"
    listed = auditor.get("/v1/kill-switches").json()
    assert [(s["id"], s["level"], s["reason"]) for s in listed] == [
        ("use_case:support", "no_tools", "incident 7")
    ]
    assert app.get("/v1/kill-switches").status_code == 403
    bad = overseer.post("/v1/kill-switches", json=body | {"level": "dim"})
    assert bad.status_code == 400
    assert "level" in bad.json()["detail"]
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert overseer.delete("/v1/kill-switches/use_case:support").status_code == 422  # no reason
    assert (
        overseer.delete("/v1/kill-switches/use_case:support", params={"reason": "ok"}).json()["level"]
        == "full"
    )
    assert overseer.delete("/v1/kill-switches/use_case:support", params={"reason": "ok"}).status_code == 404
    assert overseer.delete("/v1/kill-switches/nonsense", params={"reason": "ok"}).status_code == 400


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def sdk(live_server: LiveServer, fake: FakeProvider) -> Iterator[openai.OpenAI]:
    publish(live_server, "deployment", "fake-a", deployment(fake.url))
    publish(live_server, "deployment", "fake-b", deployment(fake.url, model="fake-b"))
    publish(
        live_server,
        "route",
        "chat-fake",
        {"candidates": [{"deployment": "fake-a"}, {"deployment": "fake-b"}]},
    )
    key = app_key(live_server)
    wait_for_route(live_server, key, "chat-fake")
    headers = {"X-Aifactory-Use-Case": "support", "X-Aifactory-Jurisdiction": "DE"}
    with openai.OpenAI(
        base_url=f"{live_server.url}/v1", api_key=key, max_retries=0, default_headers=headers
    ) as client:
        yield client


def _admin_flip(live: LiveServer, **body: Any) -> None:
    live.client().post("/v1/kill-switches", json={"reason": "test"} | body).raise_for_status()


def test_the_gateway_answers_at_each_level(
    live_server: LiveServer, sdk: openai.OpenAI, fake: FakeProvider
) -> None:
    messages: Any = [{"role": "user", "content": "call lookup please"}]
    tools: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]

    _admin_flip(live_server, scope="jurisdiction", value="EU", level="no_tools")
    answer = sdk.chat.completions.create(model="chat-fake", messages=messages, tools=tools)
    assert answer.choices[0].message.content == "echo: call lookup please"
    assert "tools" not in fake.calls[-1].body

    _admin_flip(
        live_server, scope="use_case", value="support", level="canned_reply", canned_text="Back soon."
    )
    calls = len(fake.calls)
    raw = sdk.chat.completions.with_raw_response.create(model="chat-fake", messages=messages)
    assert raw.parse().choices[0].message.content == "Back soon."
    assert len(fake.calls) == calls  # no model was called
    run = live_server.client().get(f"/v1/runs/{raw.headers['x-aifactory-run-id']}")
    assert run.status_code in (200, 404)  # recorded in the background
    streamed = sdk.chat.completions.create(model="chat-fake", messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == "Back soon."

    _admin_flip(live_server, scope="global", level="off")
    with pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(model="chat-fake", messages=messages)
    assert refused.value.status_code == 503
    assert "global" in str(refused.value.body)


def test_a_switched_off_deployment_is_not_routed_to(
    live_server: LiveServer, sdk: openai.OpenAI, fake: FakeProvider
) -> None:
    _admin_flip(live_server, scope="deployment", value="fake-a", level="off")
    for _ in range(3):
        sdk.chat.completions.create(model="chat-fake", messages=[{"role": "user", "content": "x"}])
    assert {call.body["model"] for call in fake.calls[-3:]} == {"fake-b"}


# --- the CLI -------------------------------------------------------------------------------------


def test_cli_flips_lists_and_clears(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    runner = CliRunner()
    monkeypatch.delenv("AIFACTORY_URL", raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("AIFACTORY_DATABASE_URL", database_url)
    init = runner.invoke(cli_app, ["init", "--json"])
    monkeypatch.setenv("AIFACTORY_API_KEY", json.loads(init.stdout)["admin_key"])

    def run(*args: str) -> Any:
        result = runner.invoke(cli_app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    flipped = run("kill-switches", "flip", "jurisdiction", "off", "--value", "EU", "--reason", "incident")
    assert flipped["id"] == "jurisdiction:EU"
    assert [s["id"] for s in run("kill-switches", "list")] == ["jurisdiction:EU"]
    assert run("kill-switches", "clear", "jurisdiction:EU", "--reason", "resolved")["level"] == "full"
    assert run("kill-switches", "list") == []
    assert run("tools", "list") == []
    bad = runner.invoke(cli_app, ["kill-switches", "flip", "global", "dim", "--reason", "x"])
    assert bad.exit_code == 1
    assert "level" in bad.stderr


# --- several replicas ----------------------------------------------------------------------------


def test_a_flip_reaches_another_replica(settings: Settings, admin_key: str) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite supports one server process)")
    admin = {"Authorization": f"Bearer {admin_key}"}
    # a slow change feed: the notice, not the poll, must carry the flip
    with (
        replica(settings, AIFACTORY_CHANGE_POLL_INTERVAL="30") as a,
        replica(settings, AIFACTORY_CHANGE_POLL_INTERVAL="30") as b,
    ):
        chat = {"model": "no-such-route", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(f"{b}/v1/chat/completions", json=chat, headers=admin).status_code == 404
        body = {"scope": "global", "level": "off", "reason": "replica test"}
        httpx.post(f"{a}/v1/kill-switches", json=body, headers=admin).raise_for_status()
        deadline = time.monotonic() + 10
        while (answer := httpx.post(f"{b}/v1/chat/completions", json=chat, headers=admin)).status_code != 503:
            assert time.monotonic() < deadline, f"replica b never stopped: {answer.status_code}"
            time.sleep(0.02)
        assert "global" in answer.text
        httpx.delete(
            f"{a}/v1/kill-switches/global", params={"reason": "over"}, headers=admin
        ).raise_for_status()
        deadline = time.monotonic() + 10
        while httpx.post(f"{b}/v1/chat/completions", json=chat, headers=admin).status_code != 404:
            assert time.monotonic() < deadline, "replica b never resumed"
            time.sleep(0.02)


# --- the migration -------------------------------------------------------------------------------


def test_0004_adds_and_drops_the_switch_table(database_url: str) -> None:
    from alembic import command
    from sqlalchemy import inspect

    from aifactory.store import Database
    from aifactory.store.migrate import alembic_config

    db = Database(database_url)

    def migrate(revision: str, *, down: bool = False) -> set[str]:
        cfg = alembic_config(db.url)
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)
        with db.engine.connect() as conn:
            return set(inspect(conn).get_table_names())

    try:
        assert "kill_switches" not in migrate("0003")
        assert "kill_switches" in migrate("0004")
        assert "kill_switches" not in migrate("0003", down=True)
        assert "kill_switches" in migrate("head")
    finally:
        db.dispose()


def test_a_tool_switch_reaches_another_replica(
    settings: Settings, admin_key: str, fake: FakeProvider
) -> None:
    """Issue 4's done-when: a kill switch flipped on one server process stops a tool on another."""
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL (SQLite supports one server process)")
    tools: Any = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    chat = {"model": "chat-fake", "messages": [{"role": "user", "content": "look it up"}], "tools": tools}
    lookup = {"name": "lookup", "action": "read", "resource_kind": "record", "side_effect": "read"}
    admin = {"Authorization": f"Bearer {admin_key}"}
    with replica(settings) as a, replica(settings) as b:
        live_a, live_b = LiveServer(a, admin_key, settings), LiveServer(b, admin_key, settings)
        try:
            publish(live_a, "deployment", "fake-a", deployment(fake.url))
            publish(live_a, "route", "chat-fake", {"candidates": [{"deployment": "fake-a"}]})
            publish(live_a, "tool", "lookup", lookup)
            caller = {"Authorization": f"Bearer {app_key(live_a)}"}
            wait_for_route(live_b, caller["Authorization"].removeprefix("Bearer "), "chat-fake")

            def offered_by_b() -> Any:
                answer = httpx.post(f"{b}/v1/chat/completions", json=chat, headers=caller, timeout=10)
                assert answer.status_code == 200, answer.text
                return fake.calls[-1].body.get("tools")

            assert offered_by_b() == tools
            body = {"scope": "tool", "value": "lookup", "level": "off", "reason": "tool incident"}
            httpx.post(f"{a}/v1/kill-switches", json=body, headers=admin).raise_for_status()
            deadline = time.monotonic() + 10
            while offered_by_b() is not None:  # b no longer offers the tool to the model
                assert time.monotonic() < deadline, "replica b still offers the switched-off tool"
                time.sleep(0.02)
        finally:
            live_a.close()
            live_b.close()
