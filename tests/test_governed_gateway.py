"""The governed request path end to end, as issue 4 ends: the built-in packs activated through the
catalog (a second person approves each), the same request from an EU, a Colorado and a California
subject gets three different, explained decisions; personal data never reaches a provider outside
the platform, and EU personal data only reaches an EU-region deployment; every decision is in the
run's ledger entry.

The server decides as of 2027-02-01 (`policy_as_of`): Colorado's SB26-189 is in force from
2027-01-01, and a staging instance rehearsing it is exactly what the setting is for. A call that
names no jurisdiction is taken to come from Germany (`policy_default_jurisdiction`)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from typer.testing import CliRunner

from aifactory.cli.main import app
from aifactory.policy.builtin import BUILTIN_PACKS, PACK_DIR
from aifactory.policy.pack_files import load_pack_file
from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import LiveServer, serving
from gateway_helpers import app_key, deployment, ledger_event, publish, wait_for_route

ACTIVE = [name for name in BUILTIN_PACKS if name != "colorado-sb24-205"]  # retired
PROMPT = "Draft a reply to jane.doe@example.com (+49 30 901820) about her application for the job."


@pytest.fixture
def served(settings: Settings, admin_key: str) -> Iterator[tuple[LiveServer, FakeProvider, httpx.Client]]:
    """A server deciding as of 2027-02-01 with the built-in packs active, a route whose first choice
    is a US-region deployment and whose second is in the EU, and an app's client."""
    rehearsal = settings.model_copy(
        update={"policy_as_of": date(2027, 2, 1), "policy_default_jurisdiction": "DE"}
    )
    with FakeProvider() as fake, serving(rehearsal, admin_key) as live:
        publish(live, "deployment", "fake-us", deployment(fake.url, region="us-east-1"))
        publish(live, "deployment", "fake-eu", deployment(fake.url, region="eu-central-1"))
        candidates = [{"deployment": "fake-us"}, {"deployment": "fake-eu"}]  # in priority order
        publish(live, "route", "support", {"candidates": candidates})
        publish(live, "route", "us-only", {"candidates": [{"deployment": "fake-us"}]})
        for name in ACTIVE:
            publish(live, "policy-pack", name, load_pack_file(PACK_DIR / f"{name}.yaml")[1])
        key = app_key(live)
        wait_for_route(live, key, "support")
        _until_active(live)
        yield live, fake, live.client(key)


def _until_active(live: LiveServer) -> None:
    admin = live.client()
    for _ in range(250):
        if len(admin.get("/v1/policy/packs").json()) == len(ACTIVE):
            return
        time.sleep(0.02)
    pytest.fail("the built-in packs never became active")


def _ask(client: httpx.Client, jurisdiction: str) -> httpx.Response:
    headers = {
        "X-Aifactory-Jurisdiction": jurisdiction,
        "X-Aifactory-Surface": "chat",
        "X-Aifactory-Data-Categories": "personal_data",
        "X-Aifactory-Purpose": "employment",
        "X-Aifactory-Subject": "applicant-7",
    }
    body = {"model": "support", "messages": [{"role": "user", "content": PROMPT}]}
    return client.post("/v1/chat/completions", json=body, headers=headers)


def test_three_subjects_three_explained_decisions(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    live, fake, client = served
    decisions: dict[str, dict[str, Any]] = {}
    for jurisdiction in ("DE", "US-CO", "US-CA"):
        answer = _ask(client, jurisdiction)
        assert answer.status_code == 200, answer.text
        run_id = answer.headers["x-aifactory-run-id"]
        entry = ledger_event(live, f"run:{run_id}", "run.ok")["data"]
        dry_run = live.client().post("/v1/policy/decisions", json=entry["decision_context"])
        assert dry_run.status_code == 200, dry_run.text
        decisions[jurisdiction] = dry_run.json() | {"answer": answer, "entry": entry}

    de, co, ca = decisions["DE"], decisions["US-CO"], decisions["US-CA"]
    assert len({d["entry"]["decision_digest"] for d in decisions.values()}) == 3
    # The EU subject: AI Act (Annex III employment is high risk: oversight, logs kept six months,
    # disclosure on chat), GDPR residency, and the baseline redaction.
    assert {"eu-ai-act", "gdpr-residency", "baseline"} <= {r["pack"].split("@")[0] for r in de["reasons"]}
    assert de["obligations"]["human_review"] is True
    assert de["obligations"]["retention_min_days"] >= 183
    assert "eu-central-1" in de["obligations"]["allowed_regions"]
    # Colorado: a consequential decision under SB26-189 (in force 2027-01-01): notice, review, 3 years.
    assert any(r["pack"].startswith("colorado-sb26-189@") for r in co["reasons"])
    assert co["obligations"]["human_review"] is True
    assert co["obligations"]["retention_min_days"] == 1095
    assert co["obligations"]["allowed_regions"] is None
    # California: only the baseline; SB 53 governs frontier developers, which this deployer is not.
    assert {r["pack"].split("@")[0] for r in ca["reasons"]} == {"baseline"}
    assert ca["obligations"]["human_review"] is False
    assert any(n["pack"].startswith("california-sb53@") for n in ca["not_applied"])

    # Explained to the caller too: the decision id, review flag and the disclosure text.
    de_answer = de["answer"]
    assert de_answer.headers["x-aifactory-decision-id"] == de["entry"]["decision_id"]
    assert de_answer.headers["x-aifactory-human-review"] == "required"
    assert unquote(de_answer.headers["x-aifactory-disclosure"])
    assert de_answer.json()["aifactory"]["human_review"] is True
    assert "x-aifactory-human-review" not in ca["answer"].headers

    # EU personal data went to the EU deployment only; the others to the first choice.
    assert de["entry"]["deployment"] == "fake-eu"
    assert co["entry"]["deployment"] == ca["entry"]["deployment"] == "fake-us"
    # No e-mail address or phone number reached the provider, which saw pseudonyms; the app that
    # sent them gets them back in the answer (the fake echoes the prompt).
    sent = " ".join(str(call.body) for call in fake.calls)
    assert "jane.doe@example.com" not in sent
    assert "901820" not in sent
    assert "<EMAIL_ADDRESS_" in sent
    assert "jane.doe@example.com" in ca["answer"].json()["choices"][0]["message"]["content"]
    assert de["entry"]["guards"]["input"]["pii"]["EMAIL_ADDRESS"] == 1


def test_a_prohibited_purpose_is_denied_and_recorded(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    live, fake, client = served
    before = len(fake.calls)
    headers = {"X-Aifactory-Jurisdiction": "FR", "X-Aifactory-Purpose": "social_scoring"}
    body = {"model": "support", "messages": [{"role": "user", "content": "score this citizen"}]}
    denied = client.post("/v1/chat/completions", json=body, headers=headers)
    assert denied.status_code == 403, denied.text
    error = denied.json()["error"]
    assert error["code"] == "policy_denied"
    assert any(r["pack"].startswith("eu-ai-act@") and "Art. 5" in r["source"] for r in error["reasons"])
    assert len(fake.calls) == before  # nothing reached a model
    entry = ledger_event(live, f"run:{denied.headers['x-aifactory-run-id']}", "run.refused")["data"]
    assert (entry["decision_outcome"], entry["error_type"]) == ("deny", "PolicyDeniedError")
    assert entry["decision_id"] == error["decision_id"]


def test_eu_personal_data_with_no_eu_deployment_is_refused_and_says_why(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    _live, fake, client = served
    before = len(fake.calls)
    headers = {"X-Aifactory-Jurisdiction": "DE", "X-Aifactory-Data-Categories": "personal_data"}
    body = {"model": "us-only", "messages": [{"role": "user", "content": "hello"}]}
    refused = client.post("/v1/chat/completions", json=body, headers=headers)
    assert refused.status_code == 403, refused.text
    message = refused.json()["error"]["message"]
    assert "eu-central-1" in message
    assert "fake-us (us-east-1)" in message
    assert len(fake.calls) == before


def test_a_call_naming_no_jurisdiction_takes_the_default(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    live, _fake, client = served
    headers = {"X-Aifactory-Surface": "chat", "X-Aifactory-Data-Categories": "personal_data"}
    body = {"model": "support", "messages": [{"role": "user", "content": "hello"}]}
    answer = client.post("/v1/chat/completions", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert "x-aifactory-disclosure" in answer.headers  # the AI Act's Art. 50 applies in DE
    entry = ledger_event(live, f"run:{answer.headers['x-aifactory-run-id']}", "run.ok")["data"]
    assert (entry["jurisdiction"], entry["deployment"]) == ("DE", "fake-eu")


def test_every_decision_verifies_from_the_ledger(
    served: tuple[LiveServer, FakeProvider, httpx.Client],
) -> None:
    live, _fake, client = served
    run_ids = [_ask(client, j).headers["x-aifactory-run-id"] for j in ("DE", "US-CO", "US-CA")]
    for run_id in run_ids:
        ledger_event(live, f"run:{run_id}", "run.ok")  # sequenced and under a checkpoint
    env = {"AIFACTORY_URL": live.url, "AIFACTORY_API_KEY": live.admin_key}
    for _ in range(100):  # remote mode reads what the newest signed checkpoint covers (once a second)
        result = CliRunner().invoke(app, ["ledger", "verify-decisions", "--json"], env=env)
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["summary"]["mismatch"] == report["summary"]["unverifiable"] == 0
        if report["summary"]["decisions"] >= 3:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the signed checkpoint never covered the three runs")
