"""Issue 5, done when: moving `production` without an approval and without an eval record is refused
with the same reasons through every path (HTTP with an API key, the CLI, the SDK, the canary); with
both it goes through, the canary serves 10% of subjects and sticks, rollback restores the previous
version in one call, and the ledger shows each step. On SQLite and PostgreSQL, over real HTTP."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from aifactory.cli.main import app as cli_app
from aifactory.client import Client
from aifactory.errors import GateRefusedError
from conftest import LiveServer
from eval_helpers import pass_eval

REPLY = """---
name: support-reply
description: Drafts a reply to a support ticket
variables:
  type: object
  required: [customer]
  properties:
    customer: {type: string}
tags: {function: support, risk: medium}
---

# system

You draft replies for the support team. {{ tone }}

# user

Reply to {{ customer }}.
"""


def _person(live: LiveServer, name: str, *roles: str) -> str:
    admin = live.client()
    kind = "app" if "app" in roles else "person"
    admin.post("/v1/principals", json={"name": name, "kind": kind, "roles": list(roles)}).raise_for_status()
    key = admin.post("/v1/keys", json={"name": name, "principal": name}).json()["key"]
    return str(key)


def _ledger(live: LiveServer, asset_id: str) -> list[dict[str, Any]]:
    time.sleep(0.5)  # the sequencer integrates within a few tens of milliseconds
    entries = live.client().get("/v1/ledger/entries").json()["entries"]
    return [e["event"] for e in entries if e["event"]["subject"] == f"asset:{asset_id}"]


def _unmet_from_cli(live: LiveServer, key: str, *args: str) -> list[str]:
    env = {"AIFACTORY_URL": live.url, "AIFACTORY_API_KEY": key}
    result = CliRunner().invoke(cli_app, ["prompts", *args, "--json"], env=env)
    assert result.exit_code == 1, result.output
    problem = json.loads(result.stdout)
    assert problem["status"] == 409
    return list(problem["unmet"])


def test_production_moves_only_through_the_gates_by_every_path(
    live_server: LiveServer, tmp_path: Path
) -> None:
    alice_key, bob_key = _person(live_server, "alice", "author"), _person(live_server, "bob", "reviewer")
    app_key = _person(live_server, "shop", "app")
    alice, bob, app = (live_server.client(k) for k in (alice_key, bob_key, app_key))
    source = tmp_path / "support-reply.md"

    # version 1 reaches production with both conditions met, through the CLI
    source.write_text(REPLY.replace("{{ tone }}", "Be brief."), encoding="utf-8")
    env = {"AIFACTORY_URL": live_server.url, "AIFACTORY_API_KEY": alice_key}
    pushed = CliRunner().invoke(cli_app, ["prompts", "push", str(source), "-m", "first", "--json"], env=env)
    assert pushed.exit_code == 0, pushed.output
    v1 = json.loads(pushed.stdout)
    bob.post("/v1/assets/prompt:support-reply/versions/1/approvals", json={}).raise_for_status()
    pass_eval(live_server.client(), "prompt:support-reply", v1["content_hash"])
    released = CliRunner().invoke(cli_app, ["prompts", "promote", "support-reply", "1"], env=env)
    assert released.exit_code == 0, released.output

    # version 2: no approval, no eval record
    source.write_text(REPLY.replace("{{ tone }}", "Be warm and brief."), encoding="utf-8")
    with Client(live_server.url, alice_key) as sdk:
        v2 = sdk.prompts.push(source, "warmer")
        assert v2.number == 2

        refusals = {}
        http = alice.put("/v1/assets/prompt:support-reply/labels/production", json={"version": 2})
        assert http.status_code == 409
        refusals["http"] = http.json()["unmet"]
        refusals["cli"] = _unmet_from_cli(live_server, alice_key, "promote", "support-reply", "2")
        with pytest.raises(GateRefusedError) as refused:
            sdk.prompts.promote("support-reply", 2)
        refusals["sdk"] = refused.value.extra["unmet"]
        with pytest.raises(GateRefusedError) as refused_canary:
            sdk.prompts.canary("support-reply", 2, 10)
        refusals["canary"] = refused_canary.value.extra["unmet"]
        refusals["cli canary"] = _unmet_from_cli(
            live_server, alice_key, "canary", "support-reply", "2", "--percent", "10"
        )

        expected = refusals["http"]
        assert [u.split(":")[0] for u in expected] == ["approval", "eval-record"]
        assert all(found == expected for found in refusals.values()), refusals
        asset = alice.get("/v1/assets/prompt:support-reply").json()
        assert (asset["labels"], asset["canaries"]) == ({"production": 1}, {})  # nothing changed

        # with both, the canary goes out: 10% of subjects, the same ones every time
        bob.post("/v1/assets/prompt:support-reply/versions/2/approvals", json={}).raise_for_status()
        pass_eval(live_server.client(), "prompt:support-reply", v2.content_hash)
        canary = sdk.prompts.canary("support-reply", 2, 10, reason="try the warmer tone")
        assert (canary.kind, canary.to_version, canary.percent) == ("canary", 2, 10)

    subjects = [f"customer-{n}" for n in range(1000)]
    served = {s: _version(app, s) for s in subjects}
    share = Counter(served.values())
    assert set(share) == {1, 2}
    assert 60 <= share[2] <= 140, share  # 10% of 1000, binomial: about 4 standard deviations
    assert all(_version(app, s) == served[s] for s in subjects[:200])  # sticky

    # promote the canary, then roll back in one call: version 1 serves everyone again
    bob_moves = bob.put("/v1/assets/prompt:support-reply/labels/production", json={"version": 2})
    assert bob_moves.status_code == 200, bob_moves.text
    assert {_version(app, s) for s in subjects[:50]} == {2}
    rolled = alice.post("/v1/assets/prompt:support-reply/labels/production/rollback", json={"reason": "tone"})
    assert rolled.status_code == 200, rolled.text
    assert (rolled.json()["from_version"], rolled.json()["to_version"]) == (2, 1)
    assert {_version(app, s) for s in subjects[:50]} == {1}

    steps = [(e["type"], e["data"].get("label")) for e in _ledger(live_server, asset["id"])]
    assert steps == [
        ("asset.created", None),
        ("asset.version_created", None),
        ("asset.approved", None),
        ("eval.recorded", None),
        ("asset.label_moved", "production"),
        ("asset.version_created", None),
        *[("asset.label_move_refused", "production")] * 5,
        ("asset.approved", None),
        ("eval.recorded", None),
        ("asset.canary_started", "production"),
        ("asset.label_moved", "production"),
        ("asset.label_rolled_back", "production"),
    ]


def _version(client: httpx.Client, subject: str) -> int:
    response = client.get("/v1/prompts/support-reply", params={"subject": subject})
    assert response.status_code == 200, response.text
    return int(response.json()["version"])
