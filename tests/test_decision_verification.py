"""`aifactory ledger verify-decisions` end to end: a live server decides calls from several
jurisdictions (one before any pack is active, one denied by a pack's rule) and records them; the
auditor replays every decision, against the server and on the local files, and they verify. Replayed
under other date tracks, the decisions the dated rule took part in no longer match (saying what
differs); with a pack version
rewritten in the database, the decisions that named it cannot be verified."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import rfc8785
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from aifactory.catalog import content_hash
from aifactory.catalog.records import AssetVersion
from aifactory.cli.main import app
from aifactory.client import Client
from aifactory.policy.decision import RequestContext
from aifactory.policy.engine import PolicyEngine
from aifactory.policy.packs import PackSpec
from aifactory.policy.rules import ActivePack
from aifactory.policy.verification import DecisionReport, verify_decisions
from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import LiveServer, serving
from gateway_helpers import app_key, deployment, publish, wait_for_route

PACK: dict[str, Any] = {
    "name": "house-rules",
    "title": "House rules",
    "sources": [{"title": "house rules"}],
    "default_track": "enacted",
    "rules": [
        {
            "id": "no-social-scoring",
            "description": "no social scoring, anywhere",
            "source": "house rules 1",
            "when": 'purpose == "social-scoring"',
            "deny": "social scoring is not allowed",
        },
        {
            "id": "eu-notice",
            "description": "tell people in the EU they talk to an AI",
            "source": "house rules 2",
            "scope": {"jurisdictions": ["EU"]},
            "applies_from": {"enacted": "2020-01-01", "later": "2999-01-01"},
            "disclosure": "You are talking to an AI system.",
        },
    ],
}

runner = CliRunner()


@pytest.fixture
def recorded(settings: Settings, admin_key: str) -> Iterator[tuple[LiveServer, list[str]]]:
    """A live server after five decided calls (none under a pack, DE, US, DE denied, FR); the run ids."""
    with FakeProvider() as fake, serving(settings, admin_key) as live:
        publish(live, "deployment", "fake-a", deployment(fake.url))
        publish(live, "route", "chat", {"candidates": [{"deployment": "fake-a"}]})
        key = app_key(live)
        wait_for_route(live, key, "chat")
        client = live.client(key)
        runs = [_call(client, "DE")]  # no pack is active yet: allowed, no packs named
        publish(live, "policy-pack", "house-rules", PACK)
        _until_denied(client)
        runs += [_call(client, "DE"), _call(client, "US"), _call(client, "FR", "social-scoring")]
        runs.append(_call(client, "FR"))
        _wait_for_ledger(live, runs)
        yield live, runs


def _call(client: httpx.Client, jurisdiction: str, purpose: str | None = None) -> str:
    headers = {"X-Aifactory-Jurisdiction": jurisdiction}
    if purpose is not None:
        headers["X-Aifactory-Purpose"] = purpose
    body = {"model": "chat", "messages": [{"role": "user", "content": "hello"}]}
    response = client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status_code == (403 if purpose else 200), response.text
    return response.headers["X-Aifactory-Run-Id"]


def _until_denied(client: httpx.Client) -> None:
    """Wait until the pack is active on the server (its policy follows the catalog)."""
    headers = {"X-Aifactory-Jurisdiction": "US", "X-Aifactory-Purpose": "social-scoring"}
    body = {"model": "chat", "messages": [{"role": "user", "content": "hello"}]}
    for _ in range(200):
        if client.post("/v1/chat/completions", json=body, headers=headers).status_code == 403:
            return
        time.sleep(0.05)
    pytest.fail("the pack never became active")


def _entries(live: LiveServer) -> list[dict[str, Any]]:
    """The entries a signed checkpoint covers (what the auditor reads)."""
    with Client(live.url, live.admin_key) as client:
        size = int(client.ledger.checkpoint().splitlines()[1])
        return [
            e.event
            for start in range(0, size, 1000)
            for e in client.ledger.entries(start, min(start + 1000, size))
        ]


def _wait_for_ledger(live: LiveServer, ids: list[str]) -> None:
    """Wait until every run in `ids` is in a signed checkpoint."""
    for _ in range(200):
        if {f"run:{i}" for i in ids} <= {e["subject"] for e in _entries(live)}:
            return
        time.sleep(0.05)
    pytest.fail("the runs never reached the ledger")


def _remote(live: LiveServer, *, as_json: bool = True, **env: str) -> Result:
    env = {"AIFACTORY_URL": live.url, "AIFACTORY_API_KEY": live.admin_key} | env
    flags = ["--json"] if as_json else []
    return runner.invoke(app, ["ledger", "verify-decisions", *flags], env=env)


def _local(settings: Settings) -> Result:
    env = {
        "AIFACTORY_URL": None,
        "AIFACTORY_API_KEY": None,
        "AIFACTORY_DATA_DIR": str(settings.data_dir),
        "AIFACTORY_DATABASE_URL": settings.resolved_database_url,
    }
    return runner.invoke(app, ["ledger", "verify-decisions", "--json"], env=env)


def _report(result: Result, exit_code: int) -> dict[str, Any]:
    assert result.exit_code == exit_code, result.output
    report = json.loads(result.stdout)
    assert isinstance(report, dict)
    return report


def _by_run(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["run"]: c for c in report["checks"]}


def test_every_recorded_decision_replays_to_its_digest(recorded: tuple[LiveServer, list[str]]) -> None:
    live, runs = recorded
    report = _report(_remote(live), 0)
    assert report["ok"] is True
    assert report["mode"] == "remote"
    assert report["summary"]["decisions"] == report["summary"]["ok"] >= len(runs)
    checks = _by_run(report)
    assert [checks[r]["outcome"] for r in runs] == ["allow", "restrict", "allow", "deny", "restrict"]
    assert all(checks[r]["status"] == "ok" for r in runs)
    events = {e["subject"]: e for e in _entries(live) if e["type"].startswith("run.")}
    assert events[f"run:{runs[0]}"]["data"]["policy_packs"] == []
    assert events[f"run:{runs[3]}"]["type"] == "run.refused"


def test_the_local_files_verify_too(recorded: tuple[LiveServer, list[str]], settings: Settings) -> None:
    report = _report(_local(settings), 0)
    assert report["mode"] == "local"
    assert report["summary"]["mismatch"] == report["summary"]["unverifiable"] == 0
    assert report["summary"]["ok"] >= 5


def test_replayed_under_other_date_tracks_the_dated_decisions_mismatch(
    recorded: tuple[LiveServer, list[str]],
) -> None:
    live, runs = recorded
    tracks = json.dumps({"house-rules": "later"})
    report = _report(_remote(live, AIFACTORY_POLICY_DATE_TRACKS=tracks), 1)
    checks = _by_run(report)
    # the denied call from FR stays denied, but without the notice its obligations and reasons differ
    assert [checks[r]["status"] for r in runs] == ["ok", "mismatch", "ok", "mismatch", "mismatch"]
    assert [d.split(":")[0] for d in checks[runs[3]]["differences"]] == ["obligations", "reasons"]
    de = checks[runs[1]]
    assert de["differences"][0] == "outcome: recorded restrict, replayed allow"
    assert any(d.startswith("obligations:") for d in de["differences"])
    assert any(d.startswith("reasons:") for d in de["differences"])
    assert de["replayed"]["outcome"] == "allow"
    assert de["replayed"]["reasons"] == []


def test_a_pack_version_rewritten_in_the_database_is_caught(
    recorded: tuple[LiveServer, list[str]], settings: Settings
) -> None:
    live, runs = recorded
    rewritten = PACK | {"rules": PACK["rules"][1:]}  # the deny rule taken out
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE asset_versions SET content = :content WHERE number = 1 AND asset_id = "
                    "(SELECT id FROM assets WHERE kind = 'policy-pack' AND name = 'house-rules')"
                ),
                {"content": json.dumps(rewritten)},
            )
    finally:
        engine.dispose()
    reports = [_report(_remote(live), 1), _report(_local(settings), 1)]
    for report in reports:
        checks = _by_run(report)
        assert checks[runs[0]]["status"] == "ok"  # it named no pack
        for run in runs[1:]:
            assert checks[run]["status"] == "unverifiable"
            assert "house-rules@1 is not what was pushed" in checks[run]["why"]
    people = _remote(live, as_json=False)
    assert people.exit_code == 1
    assert "Decisions that do not verify" in people.stdout
    assert f"0 mismatch, {reports[0]['summary']['unverifiable']} unverifiable" in people.stdout


# --- the replay itself, over ledger events given in order --------------------------------------------

AT = datetime(2027, 3, 1, 9, tzinfo=UTC)


def _asset_events(content: dict[str, Any] = PACK) -> list[dict[str, Any]]:
    """The ledger entries of pushing version 1 of the pack."""
    created = {"kind": "policy-pack", "name": "house-rules"}
    version = {"version": 1, "content_hash": content_hash(content)}
    return [
        {"type": "asset.created", "subject": "asset:ast_1", "data": created},
        {"type": "asset.version_created", "subject": "asset:ast_1", "data": version},
    ]


def _run_event(run: str, jurisdiction: str, content: dict[str, Any] = PACK) -> dict[str, Any]:
    """A run entry with the decision an engine over version 1 of `content` makes."""
    engine = PolicyEngine([ActivePack("house-rules", 1, PackSpec.model_validate(content))])
    decision = engine.decide(RequestContext("prn_1", AT, jurisdiction=jurisdiction))
    return {"type": "run.ok", "subject": f"run:{run}", "data": decision.ledger_fields()}


def _replay(events: list[dict[str, Any]], catalog: Mapping[int, dict[str, Any]]) -> DecisionReport:
    """The report over `events`; `catalog` holds the stored versions of the pack, by number."""

    async def lookup(name: str, number: int) -> AssetVersion | None:
        content = catalog.get(number) if name == "house-rules" else None
        if content is None:
            return None
        return AssetVersion(
            asset_id="ast_1",
            number=number,
            content_hash=content_hash(content),
            content=content,
            author_id="prn_1",
            message="",
            created_at=AT,
        )

    async def entries() -> AsyncIterator[tuple[int, Mapping[str, Any]]]:
        for index, event in enumerate(events):
            yield index, event

    return asyncio.run(verify_decisions(entries(), lookup))


def _statuses(report: DecisionReport) -> dict[str, str]:
    return {c.run: c.status for c in report.checks}


def test_a_decision_recorded_before_its_pack_version_is_checked_once_the_ledger_has_it() -> None:
    report = _replay([_run_event("r1", "DE"), *_asset_events()], {1: PACK})
    assert _statuses(report) == {"r1": "ok"}
    assert report.is_verified


def test_a_pack_version_missing_from_the_catalog_is_unverifiable() -> None:
    report = _replay([*_asset_events(), _run_event("r1", "DE")], {})
    assert [(c.status, c.why) for c in report.checks] == [
        ("unverifiable", "pack version house-rules@1 is missing from the catalog")
    ]
    assert not report.is_verified


def test_a_pack_the_ledger_never_recorded_is_unverifiable() -> None:
    report = _replay([_run_event("r1", "DE")], {1: PACK})
    assert report.checks[0].why == "the ledger records no policy pack named 'house-rules'"


def test_entries_without_a_decision_are_counted_and_incomplete_ones_unverifiable() -> None:
    undecided = {"type": "run.refused", "subject": "run:r0", "data": {"decision_id": None}}
    partial = {"type": "run.ok", "subject": "run:r2", "data": {"decision_id": "dec_1"}}
    report = _replay([undecided, partial], {})
    assert report.runs_without_decision == 1
    assert report.checks[0].why == "the entry does not carry decision_digest, decision_context, policy_packs"


def test_without_part_digests_a_mismatch_still_says_where_it_may_lie() -> None:
    event = _run_event("r1", "DE")
    del event["data"]["decision_parts"]
    event["data"]["decision_digest"] = "0" * 64
    report = _replay([*_asset_events(), event], {1: PACK})
    check = report.checks[0]
    assert check.status == "mismatch"
    assert check.differences == ("obligations or reasons (the entry has no per-part digests to tell which)",)


def test_the_digests_are_of_the_rfc_8785_form() -> None:
    engine = PolicyEngine([ActivePack("house-rules", 1, PackSpec.model_validate(PACK))])
    ctx = RequestContext(
        "prn_1", AT, jurisdiction="DE", attributes={"größe": "1.5e3"}, purpose="social-scoring"
    )
    decision = engine.decide(ctx)
    body = decision.as_json()
    del body["id"]
    assert decision.digest() == hashlib.sha256(rfc8785.dumps(body)).hexdigest()
    reasons = [r.as_json() for r in decision.reasons]
    assert decision.part_digests()["reasons"] == hashlib.sha256(rfc8785.dumps(reasons)).hexdigest()
