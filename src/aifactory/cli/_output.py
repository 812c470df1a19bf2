"""What the CLI prints: JSON for scripts (`--json`), rich tables for people, errors on stderr."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from aifactory.errors import AifactoryError, status_for

__all__ = [
    "JSON_META",
    "JsonFlag",
    "console",
    "emit_json",
    "fmt",
    "jsonable",
    "print_error",
    "print_table",
    "problem_of",
    "say",
]

JSON_META = "aifactory.json"
"""Key in `click.Context.meta` (shared by the whole command chain) set when `--json` was given."""


def _remember_json(ctx: typer.Context, value: bool) -> bool:
    if value:
        ctx.meta[JSON_META] = True
    return value


JsonFlag = Annotated[
    bool,
    typer.Option("--json", help="Print machine-readable JSON only.", callback=_remember_json),
]


def console(*, stderr: bool = False) -> Console:
    """A console on the current stdout (or stderr); data is never read as rich markup."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def jsonable(value: Any) -> Any:
    """Records, lists and dicts of them as plain JSON values."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def emit_json(value: Any) -> None:
    """Print one JSON document on stdout."""
    typer.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False, default=str))


def fmt(value: Any) -> str:
    """A cell: ISO dates (datetimes to the second), `-` for nothing, comma-separated lists."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(fmt(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}={fmt(item)}" for key, item in value.items())
    return str(value)


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A rich table on stdout."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(Text(fmt(cell)) for cell in row))
    console().print(table)


def say(message: str, style: str | None = None) -> None:
    """One line for people on stdout (never parsed as markup)."""
    console().print(Text(message, style=style or ""))


def problem_of(error: AifactoryError) -> dict[str, Any]:
    """The RFC 9457 problem an error stands for (the server's own, when it came from one)."""
    problem: dict[str, Any] = {"type": "about:blank", "title": error.title, "status": status_for(error)}
    problem.update(jsonable(error.extra))
    problem["detail"] = error.detail
    return problem


def print_error(error: AifactoryError, *, as_json: bool) -> None:
    """`error: <detail>` with each unmet condition and the request id on stderr, or the problem JSON."""
    if as_json:
        emit_json(problem_of(error))
        return
    err = console(stderr=True)
    err.print(Text("error: ", style="bold red") + Text(error.detail))
    for condition in error.extra.get("unmet") or []:
        err.print(Text(f"  unmet: {condition}"))
    if error.extra.get("request_id"):
        err.print(Text(f"  request id: {error.extra['request_id']}"))
