"""`aifactory policy` through typer's runner, in process on a local data dir (both databases): install
the built-in packs (inactive), push with line-numbered errors, explain, list, lint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aifactory.cli.main import app

runner = CliRunner()

CONFLICTING = """
name: conflicting
title: Conflicting retention
sources: [{title: test}]
rules:
  - id: keep
    description: keep a year
    source: Art. 1
    retention: {min_days: 365}
  - id: purge
    description: purge after a month
    source: Art. 2
    retention: {max_days: 30}
"""


def cli(*args: str) -> Result:
    return runner.invoke(app, list(args))


def ok_json(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    """Local mode on a fresh data dir, as its bootstrap admin."""
    monkeypatch.delenv("AIFACTORY_URL", raising=False)
    monkeypatch.delenv("AIFACTORY_API_KEY", raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("AIFACTORY_DATABASE_URL", database_url)
    monkeypatch.setenv("AIFACTORY_API_KEY", ok_json("init")["admin_key"])


def test_install_registers_the_builtin_packs_inactive(local: None) -> None:
    installed = ok_json("policy", "install")
    assert {p["name"] for p in installed} >= {"baseline", "eu-ai-act", "colorado-sb26-189", "california-sb53"}
    assert all(p["created"] and p["number"] == 1 for p in installed)
    assert not any(p["created"] for p in ok_json("policy", "install"))  # idempotent
    assert ok_json("policy", "packs") == []
    decision = ok_json("policy", "explain", "--jurisdiction", "DE", "--surface", "chat", "--at", "2027-02-01")
    assert (decision["outcome"], decision["reasons"]) == ("allow", [])


def test_push_refuses_an_invalid_pack_with_its_line(local: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        CONFLICTING.replace("retention: {max_days: 30}", "retention: {max_days: 30}\n    colour: red")
    )
    result = cli("policy", "push", str(bad))
    assert result.exit_code == 1
    assert f"{bad} line 14: rules.1.colour: Extra inputs are not permitted" in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text(CONFLICTING)
    pushed = cli("policy", "push", str(good))
    assert pushed.exit_code == 0, pushed.output
    assert "created version 1 of policy-pack:conflicting" in pushed.stdout
    assert "aifactory assets approve policy-pack:conflicting 1" in pushed.stdout


def test_explain_prints_the_outcome_obligations_and_reasons(local: None) -> None:
    text = cli("policy", "explain", "--jurisdiction", "DE", "--surface", "chat", "--attribute", "bad").output
    assert "key=value" in text
    result = cli("policy", "explain", "--jurisdiction", "DE", "--surface", "chat", "--purpose", "employment")
    assert result.exit_code == 0, result.output
    assert "outcome: allow" in result.stdout
    assert "digest:" in result.stdout


def test_lint_exits_1_on_findings(local: None, tmp_path: Path) -> None:
    clean = cli("policy", "lint")
    assert clean.exit_code == 0, clean.output
    assert "0 error(s)" in clean.stdout
    conflicting = tmp_path / "conflicting.yaml"
    conflicting.write_text(CONFLICTING)
    found = cli("policy", "lint", str(conflicting), "--json")
    assert found.exit_code == 1
    (finding,) = json.loads(found.stdout)
    assert finding["kind"] == "conflict"
    assert "retention min_days 365 exceeds max_days 30" in finding["message"]
