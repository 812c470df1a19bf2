"""`aifactory deployments`, `routes`, `chat` and `runs` through typer's runner, against a live server
(remote mode) and on a local data dir in process, with the fault-injecting fake as the upstream.
Deployments and routes are published the governed way: created with the CLI, approved by a second
person, promoted to `production`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from aifactory.cli.main import app
from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import wait_for_route

runner = CliRunner()


def cli(*args: str, key: str | None = None) -> Result:
    """Run `aifactory args...`, as the holder of `key` when given (else AIFACTORY_API_KEY)."""
    env = {"AIFACTORY_API_KEY": key} if key else None
    return runner.invoke(app, list(args), env=env)


def ok_json(*args: str, key: str | None = None) -> Any:
    """The parsed JSON of a command that must succeed."""
    result = cli(*args, "--json", key=key)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(*args: str) -> str:
    """The stderr of a command that must exit 1 with an error."""
    result = cli(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr


def publish(fake: FakeProvider) -> None:
    """Create two deployments and two routes with the CLI; a reviewer approves; promote to production."""
    ok_json("principals", "create", "gw-rev", "--kind", "person", "--role", "reviewer")
    reviewer = ok_json("keys", "create", "--name", "review", "--principal", "gw-rev")["key"]
    chat = ["--provider", "openai", "--base-url", fake.url, "--upstream-model", "fake-chat"]
    embed = ["--provider", "openai", "--base-url", fake.url, "--upstream-model", "fake-embedding"]
    embed += ["--operation", "embeddings"]
    prices = ["--input-price", "1", "--output-price", "2"]
    pushed = {
        "deployment:fake-a": ok_json(
            "deployments", "create", "fake-a", *chat, *prices, "--tag", "eu-resident", "--timeout", "5"
        ),
        "deployment:fake-embed": ok_json("deployments", "create", "fake-embed", *embed, *prices),
        "route:chat-fake": ok_json(
            "routes", "create", "chat-fake", "--candidate", "fake-a:3", "--strategy", "weighted"
        ),
        "route:embed-default": ok_json(
            "routes", "create", "embed-default", "--candidate", "fake-embed", "--operation", "embeddings"
        ),
    }
    for ref, version in pushed.items():
        assert version["created"] is True
        ok_json("assets", "approve", ref, str(version["number"]), key=reviewer)
        ok_json("assets", "promote", ref, str(version["number"]), "--label", "production")


@pytest.fixture
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch, live_server: LiveServer, fake: FakeProvider) -> LiveServer:
    """Remote mode on a live server whose gateway serves `chat-fake` and `embed-default`."""
    monkeypatch.setenv("AIFACTORY_URL", live_server.url)
    monkeypatch.setenv("AIFACTORY_API_KEY", live_server.admin_key)
    publish(fake)
    for alias in ("chat-fake", "embed-default"):
        wait_for_route(live_server, live_server.admin_key, alias)
    return live_server


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    """Local mode on a fresh data dir, as its bootstrap admin."""
    monkeypatch.delenv("AIFACTORY_URL", raising=False)
    monkeypatch.delenv("AIFACTORY_API_KEY", raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("AIFACTORY_DATABASE_URL", database_url)
    monkeypatch.setenv("AIFACTORY_API_KEY", ok_json("init")["admin_key"])


def check_chat() -> str:
    """Chat streamed, whole and as JSON; the run id of the JSON call."""
    streamed = cli("chat", "hello there", "--route", "chat-fake")
    assert streamed.exit_code == 0, streamed.output
    assert streamed.stdout == "echo: hello there\n"
    assert "run run_" in streamed.stderr
    assert "fake-a" in streamed.stderr
    assert "2 in / 3 out tokens" in streamed.stderr
    assert "$0.000008" in streamed.stderr  # 2 x $1 + 3 x $2 per million tokens, exactly
    whole = cli(
        "chat",
        "--route",
        "chat-fake",
        "hello there",
        "--no-stream",
        "--system",
        "be brief",
        "--max-tokens",
        "20",
    )
    assert whole.exit_code == 0, whole.output
    assert whole.stdout == "echo: hello there\n"
    answer = ok_json(
        "chat",
        "--route",
        "chat-fake",
        "hi",
        "--use-case",
        "support",
        "--jurisdiction",
        "EU",
        "--subject",
        "u-1",
    )
    assert answer["completion"]["choices"][0]["message"]["content"] == "echo: hi"
    assert answer["run"]["deployment"] == "fake-a"
    assert (answer["run"]["use_case"], answer["run"]["jurisdiction"]) == ("support", "EU")
    return str(answer["run_id"])


def check_runs(run_id: str) -> None:
    record = ok_json("runs", "show", run_id)
    assert (record["id"], record["route"], record["status"]) == (run_id, "chat-fake", "ok")
    assert [a["outcome"] for a in record["attempts"]] == ["ok"]
    human = cli("runs", "show", run_id)
    assert human.exit_code == 0, human.output
    assert "Attempts" in human.stdout
    assert "fake-a" in human.stdout
    assert "no run" in refused("runs", "show", "run_0000000000000000")


def check_round_trip(tmp_path: Path) -> None:
    """Export everything, import it back: every entry unchanged."""
    exported = tmp_path / "gateway.yaml"
    written = ok_json("deployments", "export", "--all", str(exported))
    assert {"chat-fake", "embed-default"} <= set(written["routes"])
    document = yaml.safe_load(exported.read_text())
    assert sorted(document) == ["deployments", "routes"]
    assert document["routes"]["chat-fake"] == {
        "candidates": [{"deployment": "fake-a", "weight": 3}],
        "strategy": "weighted",
    }
    imported = ok_json("routes", "import", str(exported))
    assert [e["created"] for e in imported] == [False] * len(imported)
    names = [(e["kind"], e["name"]) for e in imported]
    assert names.index(("deployment", "fake-a")) < names.index(("route", "chat-fake"))  # deployments first
    assert {("deployment", "fake-embed"), ("route", "embed-default")} <= set(names)


def test_publish_chat_and_inspect_remotely(remote: LiveServer, fake: FakeProvider, tmp_path: Path) -> None:
    check_runs(check_chat())
    check_round_trip(tmp_path)
    assert {"fake-a", "fake-embed"} <= {d["name"] for d in ok_json("deployments", "list")}
    shown = ok_json("deployments", "show", "fake-a")
    assert shown["asset"]["labels"] == {"production": 1}
    assert shown["labels"]["production"]["content"] == {
        "provider": "openai",
        "base_url": fake.url,
        "upstream_model": "fake-chat",
        "tags": ["eu-resident"],
        "prices": {"input_per_mtok": "1", "output_per_mtok": "2"},
        "timeout_seconds": 5.0,
    }
    human = cli("routes", "show", "chat-fake")
    assert "production: version 1" in human.stdout
    assert "strategy: weighted" in human.stdout
    assert "serves embeddings, not chat" in refused("chat", "x", "--route", "embed-default")
    assert "no route 'nope'" in refused("chat", "x", "--route", "nope")


def test_import_pushes_versions_and_never_moves_labels(remote: LiveServer, tmp_path: Path) -> None:
    document = yaml.safe_load(cli("routes", "export", "--all").stdout)
    document["deployments"]["fake-c"] = {**document["deployments"]["fake-a"], "region": "eu-west-1"}
    document["routes"]["chat-fake"]["candidates"].append({"deployment": "fake-c"})
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(document))
    imported = ok_json("deployments", "import", str(changed))
    assert {e["name"] for e in imported if e["created"]} == {"fake-c", "chat-fake"}
    human = cli("deployments", "import", str(changed))
    assert f"0 created, {len(imported)} unchanged" in human.stdout
    assert ok_json("deployments", "show", "fake-c")["labels"] == {}
    assert ok_json("routes", "show", "chat-fake")["asset"]["labels"] == {"production": 1}
    assert ok_json("routes", "export")["routes"]["chat-fake"]["candidates"] == [
        {"deployment": "fake-a", "weight": 3}
    ]
    only_deployments = yaml.safe_load(cli("deployments", "export", "--label", "production").stdout)
    assert list(only_deployments) == ["deployments"]


def test_bad_specs_exit_1_naming_the_field(remote: LiveServer, fake: FakeProvider, tmp_path: Path) -> None:
    assert "strategy" in refused(
        "routes", "create", "new-route", "--candidate", "fake-a", "--strategy", "nope"
    )
    assert "strategy" in refused("routes", "create", "chat-fake", "--candidate", "fake-a", "--strategy", "x")
    assert "base_url" in refused(
        "deployments", "create", "no-url", "--provider", "openai", "--upstream-model", "m"
    )
    assert "no-url" in refused("deployments", "show", "no-url")  # refused before it was registered
    bad_url = ["--provider", "openai", "--upstream-model", "m", "--base-url", "not a url"]
    assert "base_url" in refused("deployments", "create", "fake-a", *bad_url)
    assert "candidates.0.weight" in refused("routes", "create", "chat-fake", "--candidate", "fake-a:0")
    assert cli("routes", "create", "r", "--candidate", "fake-a:heavy").exit_code == 2

    bad_file = tmp_path / "bad.yaml"
    bad_file.write_text(
        yaml.safe_dump({"routes": {"ok-route": {"candidates": [{"deployment": "fake-a"}]}, "r2": {}}})
    )
    message = refused("routes", "import", str(bad_file))
    assert "route r2" in message
    assert "candidates" in message
    assert "1 earlier entries were pushed" in message
    bad_file.write_text(yaml.safe_dump({"models": {}}))
    assert "unknown section(s) models" in refused("deployments", "import", str(bad_file))
    problem = cli(
        "deployments", "create", "no-url", "--provider", "openai", "--upstream-model", "m", "--json"
    )
    assert problem.exit_code == 1
    assert json.loads(problem.stdout)["status"] == 400


def test_a_stream_that_fails_after_content_exits_1(remote: LiveServer, fake: FakeProvider) -> None:
    fake.plan("fake-chat", faults=["error_event_after_first_chunk"])
    result = cli("chat", "--route", "chat-fake", "a b c d")
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("echo:")
    assert result.stdout.endswith("\n")
    assert "error while streaming" in result.stderr


def test_everything_works_on_the_local_data_dir(local: None, fake: FakeProvider, tmp_path: Path) -> None:
    publish(fake)  # each command opens the data dir anew, so the gateway sees the promotion at once
    check_runs(check_chat())
    check_round_trip(tmp_path)
    fake.plan("fake-chat", faults=["error_event_after_first_chunk"])
    assert "error while streaming" in refused("chat", "--route", "chat-fake", "a b c d")
