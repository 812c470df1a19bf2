"""`aifactory teams`: the teams that own and steward assets."""

from __future__ import annotations

from typing import Annotated

import typer

from aifactory.cli._limits import Rpm, Tpm, add_limits_command
from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current

__all__ = ["app"]

app = typer.Typer(help="Teams that own and steward assets, and their rate limits.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Unique name.")],
    rpm: Rpm = None,
    tpm: Tpm = None,
    json_: JsonFlag = False,
) -> None:
    """Create a team."""
    team = current().call(lambda c: c.teams.create(name, rpm_limit=rpm, tpm_limit=tpm))
    if json_:
        emit_json(team)
        return
    say(f"created team {team.name} ({team.id})")


@app.command("list")
def list_(json_: JsonFlag = False) -> None:
    """List every team."""
    teams = current().call(lambda c: c.teams.list())
    if json_:
        emit_json(teams)
        return
    print_table(
        "Teams",
        ["id", "name", "created", "rpm", "tpm"],
        [[t.id, t.name, t.created_at, t.rpm_limit, t.tpm_limit] for t in teams],
    )


add_limits_command(app, "team", "Team id or name.", lambda c: c.teams)
