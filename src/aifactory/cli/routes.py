"""`aifactory routes`: aliases product teams call, resolved to candidate deployments."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aifactory.cli._output import JsonFlag, emit_json
from aifactory.cli._session import current
from aifactory.cli._specs import add_shared_commands, print_pushed
from aifactory.client._http import present

__all__ = ["app", "candidate", "spec_of"]

app = typer.Typer(
    help="Routes: an alias -> candidate deployments and a strategy (catalog assets).", no_args_is_help=True
)


def candidate(text: str) -> dict[str, Any]:
    """`DEPLOYMENT` or `DEPLOYMENT:WEIGHT` as a candidate (deployment names hold no colon)."""
    name, colon, weight = text.rpartition(":")
    if not colon:
        return {"deployment": text}
    try:
        return {"deployment": name, "weight": int(weight)}
    except ValueError:
        raise typer.BadParameter(f"{text!r}: the weight after ':' must be a whole number") from None


def spec_of(
    candidates: list[str],
    *,
    strategy: str | None = None,
    timeout: float | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """The route spec the options describe; what they leave out takes the server's defaults."""
    spec = {
        "candidates": [candidate(text) for text in candidates],
        "strategy": strategy,
        "timeout_seconds": timeout,
        "operation": operation,
    }
    return present(spec)


@app.command("create")
def create(
    alias: Annotated[str, typer.Argument(help="What callers ask for, e.g. chat-default.")],
    candidates: Annotated[
        list[str], typer.Option("--candidate", help="DEPLOYMENT[:WEIGHT], in priority order (repeat).")
    ],
    strategy: Annotated[
        str | None, typer.Option(help="priority (default), weighted, lowest_cost or lowest_latency.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Whole-request deadline in seconds.")] = None,
    operation: Annotated[str | None, typer.Option(help="chat (default) or embeddings.")] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="What changed.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Push a route spec as a new version (registering the route if needed)."""
    spec = spec_of(candidates, strategy=strategy, timeout=timeout, operation=operation)
    version = current().call(lambda c: c.routes.create(alias, spec, message=message))
    if json_:
        emit_json(version)
        return
    print_pushed(version, f"route:{alias}")


add_shared_commands(app, "route")
