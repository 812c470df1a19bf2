"""`aifactory budgets` and the rate-limit options of `aifactory keys` and `aifactory teams`, through
typer's runner: in process on a local data dir (both databases) and against a live server."""

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


def test_budgets_are_created_listed_shown_replaced_and_disabled(mode: str) -> None:
    ok_json("teams", "create", "payments")
    created = ok_json(
        "budgets", "create", "team", "payments", "--limit-usd", "250.50", "--window", "month",
        "--timezone", "Europe/Berlin",
    )  # fmt: skip
    assert created["id"].startswith("bud_")
    assert (created["scope"], created["limit_usd"], created["window"]) == ("team", "250.5", "month")
    assert created["timezone"] == "Europe/Berlin"
    assert created["current"]["spent_usd"] == "0"
    assert created["current"]["remaining_usd"] == "250.5"
    daily = ok_json(
        "budgets", "create", "use_case", "claims", "--limit-usd", "0.000000001", "--window", "day"
    )
    assert daily["limit_usd"] == "0.000000001"  # exact, never 1E-9

    human = ok("budgets", "show", created["id"])
    assert created["id"] in human
    assert "$250.5" in human
    assert "remaining" in human
    shown = ok_json("budgets", "show", created["id"])
    assert shown["current"]["window"] == created["current"]["window"]
    assert [b["id"] for b in ok_json("budgets", "list")] == [created["id"], daily["id"]]
    assert "claims" in ok("budgets", "list")

    # A second enabled budget for the same subject and window is refused, naming the first.
    duplicate = refused("budgets", "create", "team", "payments", "--limit-usd", "9", "--window", "month")
    assert created["id"] in duplicate
    assert "disable it first" in duplicate
    problem = json.loads(
        cli("budgets", "create", "team", "payments", "--limit-usd", "9", "--window", "month", "--json").stdout
    )
    assert (problem["status"], problem["budget_id"]) == (409, created["id"])
    disabled = ok_json("budgets", "disable", created["id"])
    assert disabled["disabled_at"] is not None
    assert "already disabled" in refused("budgets", "disable", created["id"])
    replacement = ok_json("budgets", "create", "team", "payments", "--limit-usd", "9", "--window", "month")
    assert replacement["id"] != created["id"]
    assert len(ok_json("budgets", "list")) == 3
    assert "disabled" in ok("budgets", "list")

    assert "window" in refused(
        "budgets", "create", "team", "payments", "--limit-usd", "9", "--window", "year"
    )
    assert "no team" in refused("budgets", "create", "team", "nobody", "--limit-usd", "9", "--window", "day")
    assert "no budget" in refused("budgets", "show", "bud_0123456789abcdef")
    assert "budgets disable" in ok("budgets", "disable", "--help")


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
