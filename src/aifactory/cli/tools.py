"""`aifactory tools`: the registered tools the gateway serves (register one as a `tool` asset)."""

from __future__ import annotations

import typer

from aifactory.cli._output import JsonFlag, emit_json, print_table
from aifactory.cli._session import current

__all__ = ["app"]

app = typer.Typer(
    help="Registered tools: what tool-call policies know (register with `aifactory assets`, kind tool).",
    no_args_is_help=True,
)


@app.command("list")
def list_(json_: JsonFlag = False) -> None:
    """List the tools served under the gateway's label."""
    tools = current().call(lambda c: c.tools.list())
    if json_:
        emit_json(tools)
        return
    rows = [[t.name, t.action, t.resource_kind, t.side_effect, t.description] for t in tools]
    print_table("Tools", ["name", "action", "resource kind", "side effect", "description"], rows)
