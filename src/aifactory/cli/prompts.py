"""`aifactory prompts`: prompts as governed assets, from files to production and back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from aifactory.catalog.records import AssetVersion, LabelMove
from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.errors import InvalidInputError
from aifactory.prompts.diff import diff as diff_specs
from aifactory.prompts.files import dump, format_of
from aifactory.prompts.records import PromptResolved
from aifactory.prompts.spec import parse_spec

__all__ = ["app"]

app = typer.Typer(
    help="Prompts: push files, resolve and render, release through the gates (promote, canary, "
    "rollback), retire, and see who uses which version.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The prompt's name.")]
Version = Annotated[int, typer.Argument(help="The version number.", min=1)]
Label = Annotated[str, typer.Option(help="The label, e.g. production or staging.")]
Reason = Annotated[str, typer.Option(help="Why (recorded in the ledger with your principal).")]


def _when(at: datetime) -> str:
    """A time in UTC, to the second, short enough for a table."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ref(text: str) -> tuple[str, dict[str, Any]]:
    """`name`, `name@3` / `name@v3` (a version), `name@sha256:<hex>` or `name@label`."""
    name, _, selector = text.partition("@")
    if not selector:
        return name, {}
    if selector.removeprefix("v").isdigit():
        return name, {"version": int(selector.removeprefix("v"))}
    if selector.startswith("sha256:"):
        return name, {"hash": selector}
    return name, {"label": selector}


def _resolved(text: str) -> PromptResolved:
    name, selector = _ref(text)
    return current().call(lambda c: c.prompts.get(name, **selector))


@app.command("push")
def push(
    path: Annotated[Path, typer.Argument(help="A prompt file: .yaml, .yml or .md (front matter + body).")],
    message: Annotated[str, typer.Option("-m", "--message", help="What changed (like a commit).")] = "",
    json_: JsonFlag = False,
) -> None:
    """Push a prompt file as a new version (identical content returns the existing one)."""
    version = current().call(lambda c: c.prompts.push(path, message))
    if json_:
        emit_json(version)
        return
    state = "pushed" if version.created else "unchanged: identical content is"
    say(f"{state} version {version.number} (sha256 {version.content_hash[:12]}...)")


@app.command("pull")
def pull(
    ref: Annotated[str, typer.Argument(help="name, name@label or name@VERSION.")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write here (.yaml or .md).")] = None,
) -> None:
    """Write a version back to a prompt file (YAML to stdout without --output)."""
    name, selector = _ref(ref)
    if "hash" in selector:
        raise InvalidInputError("pull takes name, name@label or name@VERSION")
    prompt = current().call(lambda c: c.prompts.pull(name, **selector))
    text = dump(prompt, format_of(output) if output else "yaml")
    if output is None:
        typer.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    say(f"wrote {output}")


@app.command("list")
def list_(json_: JsonFlag = False) -> None:
    """List every prompt with its labels, canaries and newest version."""
    _summaries(current().call(lambda c: c.prompts.list()), json_)


@app.command("search")
def search(
    query: Annotated[str | None, typer.Argument(help="Text in the name or description.")] = None,
    tag: Annotated[str | None, typer.Option(help="A tag label.")] = None,
    function: Annotated[str | None, typer.Option(help="The business function tag.")] = None,
    risk: Annotated[str | None, typer.Option(help="low, medium, high or critical.")] = None,
    model_family: Annotated[str | None, typer.Option(help="The intended model family tag.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Find prompts to reuse by text, tag, function and risk, with the use cases that share each."""
    found = current().call(
        lambda c: c.prompts.list(query, tag=tag, function=function, risk=risk, model_family=model_family)
    )
    _summaries(found, json_)


def _summaries(found: Sequence[Any], as_json: bool) -> None:
    if as_json:
        emit_json(found)
        return
    rows = [
        [
            p.name,
            ", ".join(f"{k}={v}" for k, v in sorted(p.labels.items())) or "-",
            ", ".join(f"{k}: v{int(c['version'])} {c['percent']:g}%" for k, c in p.canaries.items()) or "-",
            p.latest_version or "-",
            p.tags.get("function", "-"),
            p.tags.get("risk", "-"),
            ", ".join(p.use_cases) or "-",
            p.description,
        ]
        for p in found
    ]
    columns = ["prompt", "labels", "canaries", "latest", "function", "risk", "use cases", "description"]
    print_table("Prompts", columns, rows)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="name, name@label, name@VERSION or name@sha256:HASH.")],
    json_: JsonFlag = False,
) -> None:
    """Show what a reference resolves to (for you), and every version with its lifecycle stage."""
    found = _resolved(ref)
    versions = current().call(lambda c: c.prompts.versions(found.name))
    if json_:
        emit_json({"resolved": found, "versions": versions})
        return
    canary = " (canary)" if found.canary else ""
    say(f"{ref} -> version {found.version}{canary}, sha256 {found.content_hash[:12]}...")
    rows = [
        [
            v.number,
            v.stage,
            v.sunset or "",
            v.author_id,
            _when(v.created_at),
            v.message,
        ]
        for v in versions
    ]
    print_table(f"Versions of {found.name}", ["version", "stage", "sunset", "author", "at", "message"], rows)


@app.command("diff")
def diff(
    a: Annotated[str, typer.Argument(help="name@VERSION or name@label.")],
    b: Annotated[str, typer.Argument(help="name@VERSION or name@label (default name: a's).")],
) -> None:
    """Show what changed between two versions (unified diff of their YAML)."""
    first = _resolved(a)
    second = _resolved(b if "@" not in b or b.split("@")[0] else f"{first.name}{b}")
    text = diff_specs(parse_spec(first.spec), parse_spec(second.spec), a, b)
    typer.echo(text or "no differences", nl=not text)


@app.command("render")
def render(
    ref: Annotated[str, typer.Argument(help="name, name@label, name@VERSION or name@sha256:HASH.")],
    var: Annotated[
        list[str] | None, typer.Option("--var", help="A variable, KEY=VALUE (VALUE may be JSON).")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="Whose request (sticks the canary split).")] = None,
    json_: JsonFlag = False,
) -> None:
    """Render a prompt on the server with variables (checked against its schema)."""
    name, selector = _ref(ref)
    variables = dict(_variable(v) for v in var or [])
    rendered = current().call(lambda c: c.prompts.render(name, variables, subject=subject, **selector))
    if json_:
        emit_json(rendered)
        return
    say(f"{name} version {rendered.version}{' (canary)' if rendered.canary else ''}")
    for message in rendered.messages or [{"role": "text", "content": rendered.text or ""}]:
        typer.echo(f"[{message['role']}]\n{message['content']}\n")


def _variable(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise InvalidInputError(f"--var {text!r}: use KEY=VALUE")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


@app.command("approve")
def approve(
    name: Name,
    version: Version,
    comment: Annotated[str, typer.Option(help="What you checked.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Approve a version someone else wrote."""
    approval = current().call(lambda c: c.prompts.approve(name, version, comment))
    if json_:
        emit_json(approval)
        return
    say(f"{approval.approver_id} approved version {version} of {name}")


@app.command("promote")
def promote(
    name: Name, version: Version, label: Label = "production", reason: Reason = "", json_: JsonFlag = False
) -> None:
    """Move a label to a version, through its gates (refused with every unmet condition)."""
    _moved(
        current().call(lambda c: c.prompts.promote(name, version, label=label, reason=reason)), name, json_
    )


@app.command("canary")
def canary(
    name: Name,
    version: Version,
    percent: Annotated[float, typer.Option(help="Share of subjects the canary serves (0-100).")],
    label: Label = "production",
    ramp: Annotated[
        list[str] | None, typer.Option(help="A ramp step MINUTES:PERCENT, e.g. 60:25 (repeatable).")
    ] = None,
    reason: Reason = "",
    json_: JsonFlag = False,
) -> None:
    """Serve a version to a share of a label's subjects (sticky), through the label's gates."""
    steps = [_step(s) for s in ramp or []]
    move = current().call(
        lambda c: c.prompts.canary(name, version, percent, label=label, ramp=steps, reason=reason)
    )
    _moved(move, name, json_)


def _step(text: str) -> dict[str, float]:
    minutes, _sep, percent = text.partition(":")
    try:
        return {"after_minutes": float(minutes), "percent": float(percent)}
    except ValueError:
        raise InvalidInputError(f"--ramp {text!r}: use MINUTES:PERCENT, e.g. 60:25") from None


@app.command("rollback")
def rollback(name: Name, label: Label = "production", reason: Reason = "", json_: JsonFlag = False) -> None:
    """Roll a label back in one call: end its canary, or return it to its previous version."""
    _moved(current().call(lambda c: c.prompts.rollback(name, label=label, reason=reason)), name, json_)


def _moved(move: LabelMove, name: str, as_json: bool) -> None:
    if as_json:
        emit_json(move)
        return
    if move.kind == "canary":
        say(f"'{move.label}' of {name}: version {move.to_version} serves {move.percent:g}% (canary)")
        return
    what = "rolled back" if move.kind == "rollback" else "moved"
    say(f"'{move.label}' of {name} {what}: version {move.from_version or '-'} -> {move.to_version or '-'}")


@app.command("deprecate")
def deprecate(
    name: Name,
    version: Version,
    sunset: Annotated[str, typer.Option(help="When it retires (YYYY-MM-DD).")],
    reason: Reason = "",
    json_: JsonFlag = False,
) -> None:
    """Deprecate a version: it still serves, with a Sunset header and a warning, until retired."""
    try:
        day = date.fromisoformat(sunset)
    except ValueError:
        raise InvalidInputError(f"--sunset {sunset!r}: use YYYY-MM-DD") from None
    _marked(
        current().call(lambda c: c.prompts.mark(name, version, "deprecated", sunset=day, reason=reason)),
        json_,
    )


@app.command("retire")
def retire(
    name: Name,
    version: Version,
    reason: Reason = "",
    force: Annotated[
        bool, typer.Option(help="Retire although consumers used it recently (needs --reason).")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Retire a version: it is gone (410) except to those who pinned its content hash."""
    marked = current().call(lambda c: c.prompts.mark(name, version, "retired", reason=reason, force=force))
    _marked(marked, json_)


def _marked(version: AssetVersion, as_json: bool) -> None:
    if as_json:
        emit_json(version)
        return
    sunset = f" (sunset {version.sunset})" if version.sunset else ""
    say(f"version {version.number} is now {version.stage}{sunset}")


@app.command("consumers")
def consumers(
    name: Name,
    version: Annotated[int | None, typer.Option(help="Only this version.", min=1)] = None,
    json_: JsonFlag = False,
) -> None:
    """Who uses the prompt: each key or app, environment, use case, version, first and last use."""
    found = current().call(lambda c: c.prompts.consumers(name, version=version))
    if json_:
        emit_json(found)
        return
    rows = [
        [
            c.version_number,
            c.consumer,
            c.environment,
            c.use_case or "-",
            c.uses,
            _when(c.first_seen),
            _when(c.last_seen),
        ]
        for c in found
    ]
    columns = ["version", "consumer", "environment", "use case", "uses", "first (UTC)", "last (UTC)"]
    print_table(f"Consumers of {name}", columns, rows)


@app.command("history")
def history(name: Name, json_: JsonFlag = False) -> None:
    """Every label move, canary and rollback of a prompt, oldest first."""
    moves = current().call(lambda c: c.prompts.history(name))
    if json_:
        emit_json(moves)
        return
    rows = [
        [
            _when(m.at),
            m.label,
            m.kind,
            m.from_version or "-",
            m.to_version or "-",
            "" if m.percent is None else f"{m.percent:g}%",
            m.actor_id,
            m.reason,
        ]
        for m in moves
    ]
    print_table(
        f"History of {name}", ["at (UTC)", "label", "kind", "from", "to", "percent", "by", "reason"], rows
    )
