"""`aifactory kill-switches`: stop or restrict service for a scope at once, on every replica."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer

from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.policy.switch_records import Switch

__all__ = ["app"]

app = typer.Typer(
    help="Kill switches: set a scope's level of service (full, no_write_tools, no_tools, canned_reply, "
    "off), clear it, list what is set.",
    no_args_is_help=True,
)

Reason = Annotated[str, typer.Option(help="Why (recorded in the ledger with your principal).")]


def _rows(switches: Sequence[Switch]) -> list[list[str]]:
    return [
        [s.id, s.level, s.reason, s.actor, s.set_at.isoformat(timespec="seconds"), s.canned_text or ""]
        for s in switches
    ]


@app.command("flip")
def flip(
    scope: Annotated[str, typer.Argument(help="global, jurisdiction, use_case, deployment or tool.")],
    level: Annotated[str, typer.Argument(help="full (clears), no_write_tools, no_tools, canned_reply, off.")],
    reason: Reason,
    value: Annotated[
        str | None, typer.Option(help="Which jurisdiction (EU covers DE), use case, deployment or tool.")
    ] = None,
    canned_text: Annotated[str | None, typer.Option(help="The answer at canned_reply.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Set a scope's level of service; in force on every replica within a second."""
    switch = current().call(
        lambda c: c.kill_switches.flip(scope, value, level, reason=reason, canned_text=canned_text)
    )
    if json_:
        emit_json(switch)
        return
    say(f"kill switch {switch.id} is now {switch.level}")


@app.command("clear")
def clear(
    switch_id: Annotated[str, typer.Argument(help="`global` or `<scope>:<value>` (jurisdiction:EU).")],
    reason: Reason,
    json_: JsonFlag = False,
) -> None:
    """Return a scope to full service."""
    switch = current().call(lambda c: c.kill_switches.clear(switch_id, reason=reason))
    if json_:
        emit_json(switch)
        return
    say(f"kill switch {switch.id} cleared: full service")


@app.command("list")
def list_(json_: JsonFlag = False) -> None:
    """List the kill switches set now."""
    switches = current().call(lambda c: c.kill_switches.list())
    if json_:
        emit_json(switches)
        return
    print_table("Kill switches", ["switch", "level", "reason", "by", "since", "canned text"], _rows(switches))
