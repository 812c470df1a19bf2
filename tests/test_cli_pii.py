"""`aifactory pii analyze` and `aifactory pii redact` through typer's runner: in process on a local
data dir and against a live server, text as an argument, from stdin and from a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aifactory.cli.main import app
from conftest import LiveServer

runner = CliRunner()
TEXT = "Mail jane@example.com, Karte 4111 1111 1111 1111, Grüße 👋"


def cli(*args: str, stdin: str | None = None) -> Result:
    """Run `aifactory args...`."""
    return runner.invoke(app, list(args), input=stdin)


def ok(*args: str, stdin: str | None = None) -> str:
    """The stdout of a command that must succeed."""
    result = cli(*args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_json(*args: str, stdin: str | None = None) -> Any:
    """The parsed JSON of a command that must succeed."""
    return json.loads(ok(*args, "--json", stdin=stdin))


def refused(*args: str) -> str:
    """The stderr of a command that must exit 1 with an error (never a traceback)."""
    result = cli(*args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr


@pytest.fixture(params=["local", "remote"])
def mode(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> str:
    """Each test runs in local mode and against a live server, on each database."""
    if request.param == "local":
        monkeypatch.delenv("AIFACTORY_URL", raising=False)
        monkeypatch.delenv("AIFACTORY_API_KEY", raising=False)
        monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "cli-data"))
        monkeypatch.setenv("AIFACTORY_DATABASE_URL", database_url)
        monkeypatch.setenv("AIFACTORY_API_KEY", ok_json("init")["admin_key"])
    else:
        live: LiveServer = request.getfixturevalue("live_server")
        monkeypatch.setenv("AIFACTORY_URL", live.url)
        monkeypatch.setenv("AIFACTORY_API_KEY", live.admin_key)
    return str(request.param)


def test_analyze_from_an_argument_stdin_and_a_file(mode: str, tmp_path: Path) -> None:
    found = ok_json("pii", "analyze", TEXT)["entities"]
    assert [(e["type"], TEXT[e["start"] : e["end"]]) for e in found] == [
        ("EMAIL_ADDRESS", "jane@example.com"),
        ("CREDIT_CARD", "4111 1111 1111 1111"),
    ]
    assert all("text" not in e for e in found)
    assert (
        ok_json("pii", "analyze", "-", "--show-text", stdin=TEXT)["entities"][0]["text"] == "jane@example.com"
    )
    path = tmp_path / "in.txt"
    path.write_bytes(TEXT.encode() + b"\xff\xfe junk")
    assert len(ok_json("pii", "analyze", "--file", str(path), "--entities", "CREDIT_CARD")["entities"]) == 1
    table = ok("pii", "analyze", TEXT, "--show-text")
    assert "EMAIL_ADDRESS" in table
    assert "jane@example.com" in table


def test_redact_prints_the_text_or_json(mode: str) -> None:
    assert ok("pii", "redact", TEXT).strip() == "Mail <EMAIL_ADDRESS>, Karte <CREDIT_CARD>, Grüße 👋"
    mixed = ok("pii", "redact", "--mode", "EMAIL_ADDRESS=hash", "-", stdin=TEXT)
    assert mixed.startswith("Mail <EMAIL_ADDRESS#")
    assert "4111 1111 1111 1111" in mixed
    body = ok_json("pii", "redact", TEXT, "--mode", "remove")
    assert body["text"] == "Mail , Karte , Grüße 👋"
    assert [e["type"] for e in body["entities"]] == ["EMAIL_ADDRESS", "CREDIT_CARD"]


def test_bad_input_is_an_error_line(mode: str, tmp_path: Path) -> None:
    assert "pseudonymize" in refused("pii", "redact", TEXT, "--mode", "blur")
    assert "EMAIL_ADDRESS" in refused("pii", "analyze", TEXT, "--entities", "PERSON")
    assert "not both" in refused("pii", "analyze")
    assert "not both" in refused("pii", "analyze", TEXT, "--file", str(tmp_path / "x"))
    assert "cannot read" in refused("pii", "analyze", "--file", str(tmp_path / "missing.txt"))
    assert "TYPE=MODE" in refused("pii", "redact", TEXT, "--mode", "EMAIL_ADDRESS=")
