"""The rate-limit options of `aifactory keys` and `aifactory teams`, through typer's runner: in process
on a local data dir (both databases) and against a live server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from aifactory.cli.main import app
from conftest import LiveServer

runner = CliRunner()


def cli(*args: str, key: str | None = None) -> Result:
    """Run `aifactory args...`, as the holder of `key` when given (else AIFACTORY_API_KEY)."""
    env = {"AIFACTORY_API_KEY": key} if key else None
    return runner.invoke(app, list(args), env=env)


def ok(*args: str, key: str | None = None) -> str:
    """The stdout of a command that must succeed."""
    result = cli(*args, key=key)
    assert result.exit_code == 0, result.output
    return result.stdout


def ok_json(*args: str, key: str | None = None) -> Any:
    """The parsed JSON of a command that must succeed."""
    return json.loads(ok(*args, "--json", key=key))


def refused(*args: str, key: str | None = None) -> str:
    """The stderr of a command that must exit 1 with an error (never a traceback)."""
    result = cli(*args, key=key)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    return result.stderr


@pytest.fixture
def local(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> None:
    """Local mode on a fresh data dir, as its bootstrap admin."""
    monkeypatch.delenv("AIFACTORY_URL", raising=False)
    monkeypatch.delenv("AIFACTORY_API_KEY", raising=False)
    monkeypatch.setenv("AIFACTORY_DATA_DIR", str(tmp_path / "cli-data"))
    monkeypatch.setenv("AIFACTORY_DATABASE_URL", database_url)
    monkeypatch.setenv("AIFACTORY_API_KEY", ok_json("init")["admin_key"])


@pytest.fixture
def remote(monkeypatch: pytest.MonkeyPatch, live_server: LiveServer) -> None:
    """Remote mode on a live server, as its admin."""
    monkeypatch.setenv("AIFACTORY_URL", live_server.url)
    monkeypatch.setenv("AIFACTORY_API_KEY", live_server.admin_key)


@pytest.fixture(params=["local", "remote"])
def mode(request: pytest.FixtureRequest, database_url: str) -> str:
    """Each test runs in local mode and against a live server, on each database."""
    request.getfixturevalue(request.param)
    return str(request.param)


def test_keys_and_teams_get_limits_of_their_own(mode: str) -> None:
    team = ok_json("teams", "create", "search", "--rpm", "600")
    assert (team["rpm_limit"], team["tpm_limit"]) == (600, None)
    ok_json("principals", "create", "search-app", "--kind", "app", "--role", "app", "--team", "search")
    key = ok_json(
        "keys", "create", "--name", "svc", "--principal", "search-app", "--rpm", "60", "--tpm", "9000"
    )
    assert (key["rpm_limit"], key["tpm_limit"]) == (60, 9000)

    assert ok_json("keys", "limits", key["prefix"], "--rpm", "120")["rpm_limit"] == 120
    both = ok_json("keys", "limits", key["id"])  # no options: shows them
    assert (both["rpm_limit"], both["tpm_limit"]) == (120, 9000)
    reset = ok_json("keys", "limits", key["id"], "--reset", "--tpm", "100")
    assert (reset["rpm_limit"], reset["tpm_limit"]) == (None, 100)
    assert "rpm server default, tpm 100" in ok("keys", "limits", key["id"])
    assert "9000" not in ok("keys", "list", "--principal", "search-app")

    assert ok_json("teams", "limits", "search", "--tpm", "50000")["tpm_limit"] == 50000
    assert "rpm 600, tpm 50000" in ok("teams", "limits", team["id"])
    cleared = ok_json("teams", "limits", "search", "--reset")
    assert (cleared["rpm_limit"], cleared["tpm_limit"]) == (None, None)
    assert [t["rpm_limit"] for t in ok_json("teams", "list") if t["name"] == "search"] == [None]

    assert "no team" in refused("teams", "limits", "nowhere", "--rpm", "5")
    assert cli("keys", "limits", key["id"], "--rpm", "0").exit_code == 2  # typer refuses the range

    # The key's owner may not lift its own limits.
    ok_json("principals", "create", "lim-author", "--kind", "person", "--role", "author")
    author = ok_json("keys", "create", "--name", "mine", "--principal", "lim-author")
    assert "keys.update" in refused("keys", "limits", author["id"], "--rpm", "9999", key=author["key"])
    assert "keys.update" in refused("keys", "create", "--name", "more", "--rpm", "9999", key=author["key"])
