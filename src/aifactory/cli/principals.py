"""`aifactory principals`: people and apps."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.identity.records import Principal

__all__ = ["app"]

app = typer.Typer(help="People and apps, with their roles.", no_args_is_help=True)


class Kind(StrEnum):
    """What a principal is."""

    PERSON = "person"
    APP = "app"


def _rows(principals: list[Principal]) -> list[list[object]]:
    return [[p.id, p.name, p.kind, p.roles, p.team_id, p.created_at, p.disabled_at] for p in principals]


def _table(title: str, principals: list[Principal]) -> None:
    columns = ["id", "name", "kind", "roles", "team", "created", "disabled"]
    print_table(title, columns, _rows(principals))


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Unique name.")],
    kind: Annotated[Kind, typer.Option(help="person or app.")],
    roles: Annotated[list[str], typer.Option("--role", help="A role (repeat for several).")],
    team: Annotated[str | None, typer.Option(help="Team id or name.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Create a person or app; granting `admin` needs an admin."""
    principal = current().call(lambda c: c.principals.create(name, kind=kind.value, roles=roles, team=team))
    if json_:
        emit_json(principal)
        return
    say(f"created {principal.kind} {principal.name} ({principal.id}) with roles {', '.join(principal.roles)}")


@app.command("list")
def list_(json_: JsonFlag = False) -> None:
    """List every principal."""
    principals = current().call(lambda c: c.principals.list())
    if json_:
        emit_json(principals)
        return
    _table("Principals", principals)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="Id or name (`me`: you).")],
    json_: JsonFlag = False,
) -> None:
    """Show one principal."""
    principal = current().call(lambda c: c.principals.get(ref))
    if json_:
        emit_json(principal)
        return
    _table(f"Principal {principal.name}", [principal])
