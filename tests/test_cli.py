"""The CLI through typer's runner: local mode on a tmp data dir (in process, no server, both
databases) and remote mode against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner, Result

from aifactory.cli.main import app
from conftest import LiveServer, free_port

AIFACTORY = Path(sys.executable).with_name("aifactory")

runner = CliRunner()


def cli(*args: str, key: str | None = None) -> Result:
    """Run `aifactory args...`, as the holder of `key` when given."""
    env = {"AIFACTORY_API_KEY": key} if key else None
    return runner.invoke(app, list(args), env=env)


def ok_json(*args: str, key: str | None = None) -> Any:
    """The parsed JSON of a command that must succeed."""
    result = cli(*args, "--json", key=key)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    """Local mode on a fresh data dir; the bootstrap admin key from `aifactory init --json`."""
    for name in ("AIFACTORY_URL", "AIFACTORY_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("AIFACTORY_DATABASE_URL", database_url)
    key = ok_json("init")["admin_key"]
    assert isinstance(key, str)
    return key


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch, live_server: LiveServer) -> LiveServer:
    """Remote mode: AIFACTORY_URL and AIFACTORY_API_KEY name the live server and its admin."""
    monkeypatch.setenv("AIFACTORY_URL", live_server.url)
    monkeypatch.setenv("AIFACTORY_API_KEY", live_server.admin_key)
    return live_server


def test_init_shows_the_admin_key_only_once(local: str, tmp_path: Path) -> None:
    assert local.startswith("aif_")
    again = ok_json("init")
    assert again["admin_key"] is None
    assert again["data_dir"] == str((tmp_path / "cli-data").resolve())
    assert again["verifier_key"].startswith("aifactory.local/ledger+")
    human = cli("init")
    assert human.exit_code == 0
    assert "already initialised" in human.stdout
    assert "aif_" not in human.stdout


def test_governed_commands_need_a_key_and_say_how(local: str) -> None:
    result = cli("assets", "list")
    assert result.exit_code == 1
    assert "export AIFACTORY_API_KEY" in result.stderr
    assert "Traceback" not in result.output


def test_promotion_needs_approval_by_a_second_principal(local: str, tmp_path: Path) -> None:
    admin = local
    content = tmp_path / "greet.yaml"
    content.write_text("template: 'Hello {name}'\nmax_tokens: 50\n")
    assert (
        ok_json("assets", "create", "runbook", "greet", "--description", "Greets", key=admin)["name"]
        == "greet"
    )
    pushed = cli("assets", "push", "runbook:greet", str(content), "-m", "first", key=admin)
    assert pushed.exit_code == 0
    assert "created version 1" in pushed.stdout
    same = tmp_path / "same.json"
    same.write_text(json.dumps({"max_tokens": 50, "template": "Hello {name}"}))
    repeat = cli("assets", "push", "runbook:greet", str(same), key=admin)
    assert repeat.exit_code == 0
    assert "already version 1" in repeat.stdout

    refused = cli("assets", "promote", "runbook:greet", "1", "--label", "production", key=admin)
    assert refused.exit_code == 1
    assert refused.stderr.startswith("error: cannot move 'production'")
    assert "unmet: approval: version 1 has 0 approval(s)" in refused.stderr
    assert "request id:" in refused.stderr

    ok_json("principals", "create", "rita", "--kind", "person", "--role", "reviewer", key=admin)
    rita = ok_json("keys", "create", "--name", "rita laptop", "--principal", "rita", key=admin)["key"]
    own = cli("assets", "approve", "runbook:greet", "1", key=admin)
    assert own.exit_code == 1
    assert "error:" in own.stderr
    assert (
        ok_json("assets", "approve", "runbook:greet", "1", "--comment", "fine", key=rita)["comment"] == "fine"
    )
    promoted = cli("assets", "promote", "runbook:greet", "1", "--label", "production", key=admin)
    assert promoted.exit_code == 0, promoted.output
    shown = ok_json("assets", "show", "runbook:greet", key=admin)
    assert shown["labels"] == {"production": 1}
    assert [v["number"] for v in shown["versions"]] == [1]
    history = ok_json("assets", "history", "runbook:greet", key=admin)
    assert [(m["label"], m["to_version"]) for m in history] == [("production", 1)]
    assert cli("assets", "show", "runbook:greet", key=admin).exit_code == 0


def test_json_errors_are_problems(local: str) -> None:
    result = cli("assets", "show", "runbook:missing", "--json", key=local)
    assert result.exit_code == 1
    problem = json.loads(result.stdout)
    assert (problem["status"], problem["title"]) == (404, "Not found")
    assert "runbook:missing" in problem["detail"]


def test_usage_errors_exit_2(local: str) -> None:
    assert cli("assets", "create", "runbook", key=local).exit_code == 2
    bad_date = cli("assets", "create", "runbook", "p", "--review-by", "soon", key=local)
    assert bad_date.exit_code == 2
    assert "ISO date" in bad_date.output


def test_every_noun_speaks_json(local: str, tmp_path: Path) -> None:
    admin = local
    assert ok_json("teams", "create", "ml", key=admin)["name"] == "ml"
    assert {t["name"] for t in ok_json("teams", "list", key=admin)} == {"ml", "platform"}
    ok_json("principals", "create", "bot", "--kind", "app", "--role", "app", "--team", "ml", key=admin)
    assert ok_json("principals", "show", "me", key=admin)["name"] == "admin"
    assert {p["name"] for p in ok_json("principals", "list", key=admin)} == {"admin", "aifactory", "bot"}
    key = ok_json(
        "keys", "create", "--name", "ci", "--principal", "bot", "--expires-in-days", "30", key=admin
    )
    assert [k["id"] for k in ok_json("keys", "list", "--principal", "bot", key=admin)] == [key["id"]]
    assert ok_json("keys", "revoke", key["id"], key=admin)["revoked_at"] is not None
    asset = ok_json(
        "assets", "create", "dataset", "faq", "--review-by", "2031-01-02", "--critical", key=admin
    )
    assert (asset["review_by"], asset["critical"]) == ("2031-01-02", True)
    assert [a["name"] for a in ok_json("assets", "list", "--kind", "dataset", key=admin)] == ["faq"]
    assert ok_json("assets", "due", key=admin) == []
    reviewed = ok_json("assets", "review", "dataset:faq", "--next-review-by", "2032-03-04", key=admin)
    assert reviewed["review_by"] == "2032-03-04"
    content = tmp_path / "faq.json"
    content.write_text('{"rows": 10}')
    assert ok_json("assets", "push", "dataset:faq", str(content), key=admin)["created"] is True
    moved = ok_json("assets", "promote", "dataset:faq", "1", "--label", "staging", key=admin)
    assert moved["to_version"] == 1
    assert ok_json("assets", "unlabel", "dataset:faq", "staging", key=admin)["to_version"] is None
    for table in (["teams", "list"], ["principals", "list"], ["keys", "list"], ["assets", "list"]):
        assert cli(*table, key=admin).exit_code == 0


def test_ledger_commands_work_on_local_files_without_a_key(local: str) -> None:
    checkpoint = ok_json("ledger", "checkpoint")
    size = checkpoint["size"]
    assert size >= 3
    assert checkpoint["note"].startswith("aifactory.local/ledger\n")
    assert cli("ledger", "checkpoint").stdout == checkpoint["note"]
    assert ok_json("ledger", "verifier-key")["verifier_key"].startswith("aifactory.local/ledger+")
    entries = ok_json("ledger", "entries", "--start", "1", "--end", "3")
    assert [e["index"] for e in entries] == [1, 2]
    inclusion = ok_json("ledger", "proof", "inclusion", "--index", "1", "--tree-size", str(size))
    assert inclusion["verified"]
    assert inclusion["hashes"]
    consistency = ok_json("ledger", "proof", "consistency", "--first", "1", "--second", str(size))
    assert consistency["verified"]
    assert consistency["root"] == checkpoint["root"]
    human = cli("ledger", "proof", "inclusion", "--index", "0", "--tree-size", str(size))
    assert human.exit_code == 0
    assert "verified: the inclusion proof checks out" in human.stdout


def _activity(admin: str, n: int) -> None:
    for i in range(n):
        assert cli("assets", "create", "dataset", f"d{i}", key=admin).exit_code == 0


def test_ledger_verify_names_the_tampered_index(local: str, database_url: str) -> None:
    _activity(local, 3)
    verified = ok_json("ledger", "verify")
    assert verified["ok"]
    assert verified["entries"] >= 6
    human = cli("ledger", "verify")
    assert human.exit_code == 0
    assert "ledger verified (local)" in human.stdout

    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE ledger_entries SET leaf = :leaf WHERE idx = 3"),
            {"leaf": b'{"index":3,"type":"forged"}'},
        )
    engine.dispose()
    failed = cli("ledger", "verify")
    assert failed.exit_code == 1
    assert "error: index 3 was modified" in failed.stderr
    problem = json.loads(cli("ledger", "verify", "--json").stdout)
    assert problem["index"] == 3
    assert problem["title"] == "Ledger integrity failure"


def test_an_uninitialised_data_dir_says_to_run_init(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AIFACTORY_URL", raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "nothing"))
    result = cli("ledger", "verify")
    assert result.exit_code == 1
    assert "run `aifactory init`" in result.stderr


def test_remote_mode_talks_to_the_server(remote: LiveServer) -> None:
    assert ok_json("teams", "create", "remote-team")["name"] == "remote-team"
    assert ok_json("assets", "create", "runbook", "hello")["kind"] == "runbook"
    assert [a["name"] for a in ok_json("assets", "list", "--kind", "runbook")] == ["hello"]
    missing = cli("assets", "show", "runbook:missing")
    assert missing.exit_code == 1
    assert "error: no asset 'runbook:missing'" in missing.stderr
    assert "request id:" in missing.stderr


def test_remote_verify_audits_over_http(remote: LiveServer) -> None:
    verified = ok_json("ledger", "verify")
    assert verified["mode"] == "remote"
    assert verified["ok"]
    assert verified["checkpoints"] == 1
    inclusion = ok_json("ledger", "proof", "inclusion", "--index", "0", "--tree-size", "1")
    assert inclusion["verified"] is False
    assert len(inclusion["hashes"]) == 0
    forged = "aifactory.local/ledger+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    pinned = cli("ledger", "verify", "--verifier-key", forged)
    assert pinned.exit_code == 1
    assert "checkpoint does not verify" in pinned.stderr


def _local_env(tmp_path: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("AIFACTORY_URL", "AIFACTORY_API_KEY")}
    return {**env, "AIFACTORY_DATA_DIR": str(tmp_path / "proc-data"), "AIFACTORY_DATABASE_URL": database_url}


def test_the_installed_command_initialises_and_fails_cleanly(tmp_path: Path, database_url: str) -> None:
    env = _local_env(tmp_path, database_url)
    first = subprocess.run([AIFACTORY, "init"], env=env, capture_output=True, text=True, check=True)
    assert "shown once" in first.stdout
    assert "export AIFACTORY_API_KEY=aif_" in first.stdout
    listed = subprocess.run([AIFACTORY, "assets", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 1
    assert listed.stderr.startswith("error: no API key")
    assert "Traceback" not in listed.stderr


def test_serve_runs_the_server(tmp_path: Path, database_url: str) -> None:
    env = _local_env(tmp_path, database_url)
    subprocess.run([AIFACTORY, "init"], env=env, capture_output=True, check=True)
    port = free_port()
    server = subprocess.Popen(
        [AIFACTORY, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert server.poll() is None, "aifactory serve exited"
                assert time.monotonic() < deadline, "aifactory serve did not become ready"
                time.sleep(0.1)
    finally:
        server.terminate()
        _, stderr = server.communicate(timeout=30)
    assert b"Traceback" not in stderr
