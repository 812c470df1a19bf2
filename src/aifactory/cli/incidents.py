"""`aifactory incidents`: open, list, show and resolve incidents on assets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.monitoring.records import Incident

__all__ = ["app"]

app = typer.Typer(
    help="Incidents on assets: while one is open, the no-open-incident gate keeps the asset's labels "
    "where they are.",
    no_args_is_help=True,
)

IncidentId = Annotated[str, typer.Argument(help="The incident's id (inc_...).")]


def _rows(found: Sequence[Incident]) -> list[list[object]]:
    return [
        [i.id, i.asset_id, i.title, i.severity, i.status, i.opened_by, i.opened_at, i.resolution]
        for i in found
    ]


def _show(incident: Incident, json_: bool, message: str) -> None:
    if json_:
        emit_json(incident)
        return
    say(message)


@app.command("open")
def open_(
    asset: Annotated[str, typer.Argument(help="The asset (id or kind:name).")],
    title: Annotated[str, typer.Argument(help="What is wrong, in a line.")],
    severity: Annotated[str, typer.Option(help="low, medium, high or critical.")],
    json_: JsonFlag = False,
) -> None:
    """Open an incident on an asset."""
    incident = current().call(lambda c: c.incidents.open(asset, title, severity=severity))
    _show(incident, json_, f"{incident.id} opened on {asset} ({incident.severity}): {incident.title}")


@app.command("list")
def list_(
    asset: Annotated[str | None, typer.Option(help="Only this asset (id or kind:name).")] = None,
    status: Annotated[str | None, typer.Option(help="Only open or resolved incidents.")] = None,
    json_: JsonFlag = False,
) -> None:
    """List the newest incidents."""
    found = current().call(lambda c: c.incidents.list(asset, status))
    if json_:
        emit_json(found)
        return
    columns = ["id", "asset", "title", "severity", "status", "opened by", "opened at", "resolution"]
    print_table("Incidents", columns, _rows(found))


@app.command("show")
def show(incident_id: IncidentId, json_: JsonFlag = False) -> None:
    """Show one incident."""
    incident = current().call(lambda c: c.incidents.get(incident_id))
    if json_:
        emit_json(incident)
        return
    print_table(f"Incident {incident.id}", ["field", "value"], list(incident.model_dump().items()))


@app.command("resolve")
def resolve(
    incident_id: IncidentId,
    resolution: Annotated[str, typer.Option(help="How it was resolved (recorded in the ledger).")],
    json_: JsonFlag = False,
) -> None:
    """Resolve an open incident."""
    incident = current().call(lambda c: c.incidents.resolve(incident_id, resolution))
    _show(incident, json_, f"{incident.id} resolved")
