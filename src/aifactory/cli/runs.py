"""`aifactory runs`: the record of each gateway call (route, deployment, attempts, tokens, money)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import typer

from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.client import AsyncClient
from aifactory.errors import NotFoundError

__all__ = ["app", "fetch_run", "payload", "summary"]

app = typer.Typer(help="Run records of gateway calls.", no_args_is_help=True)

_FIELDS = (
    "id",
    "created_at",
    "status",
    "error_type",
    "operation",
    "route",
    "stream",
    "deployment",
    "upstream_model",
    "principal_id",
    "key_id",
    "team_id",
    "use_case",
    "jurisdiction",
    "surface",
    "subject_hash",
    "latency_ms",
    "ttft_ms",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "price_known",
)


async def fetch_run(client: AsyncClient, run_id: str, wait: float = 2.0) -> dict[str, Any]:
    """The run record, waiting up to `wait` seconds for it to be committed.

    A server with `gateway_durable_runs` off answers before the record is committed (within
    milliseconds), so a record read right after the call may not be there yet.
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            return await client.gateway.run(run_id)
        except NotFoundError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(0.05)


def usd(value: Any) -> str:
    """An exact USD amount without trailing zeros (`$0.000012`), or `price unknown`."""
    if value is None:
        return "price unknown"
    try:
        return f"${Decimal(str(value)).normalize():f}"
    except InvalidOperation:
        return f"${value}"


def summary(run: dict[str, Any]) -> str:
    """One line: run id, deployment, tokens, latency and cost."""
    latency = "-" if run.get("latency_ms") is None else f"{float(run['latency_ms']):.0f} ms"
    if run.get("ttft_ms") is not None:
        latency += f" (first token {float(run['ttft_ms']):.0f} ms)"
    tokens = f"{run.get('prompt_tokens', 0)} in / {run.get('completion_tokens', 0)} out tokens"
    parts = [f"run {run['id']}", str(run.get("deployment") or "-"), tokens, latency, usd(run.get("cost_usd"))]
    return " · ".join(parts)


@app.command("show")
def show(
    run_id: Annotated[str, typer.Argument(help="The run id (the X-Aifactory-Run-Id of a call).")],
    json_: JsonFlag = False,
) -> None:
    """Show a run record: route, deployment, attempts, latency, tokens, cost (never prompt text)."""
    run = current().call(lambda c: c.gateway.run(run_id))
    if json_:
        emit_json(run)
        return
    rows = [[name, usd(run.get(name)) if name == "cost_usd" else run.get(name)] for name in _FIELDS]
    print_table(f"Run {run_id}", ["field", "value"], rows)
    attempts = run.get("attempts") or []
    if attempts:
        columns = list(dict.fromkeys(key for attempt in attempts for key in attempt))
        rows = [[n, *(attempt.get(c) for c in columns)] for n, attempt in enumerate(attempts, 1)]
        print_table("Attempts", ["#", *columns], rows)


@app.command("payload")
def payload(
    run_id: Annotated[str, typer.Argument(help="The run id (the X-Aifactory-Run-Id of a call).")],
    json_: JsonFlag = False,
) -> None:
    """Show what a run sent upstream and got back (decrypted; the read is recorded in the ledger)."""
    record = current().call(lambda c: c.gateway.payload(run_id))
    if json_:
        emit_json(record)
        return
    request = record.payload.get("request") or {}
    rows = [[m.get("role"), m.get("content")] for m in request.get("messages") or []]
    rows += [["input", text] for text in request.get("input") or []]
    output = record.payload.get("output") or {}
    if output:
        rows.append(["output", output.get("text")])
        rows += [["tool call", call] for call in output.get("tool_calls") or []]
    print_table(f"Payload of run {run_id}", ["part", "content"], rows)
    say(f"kept until {record.retention_until.isoformat()}; commitment {record.commitment}")
