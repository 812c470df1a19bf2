"""`aifactory policy`: push and install policy packs, list the active ones, explain a decision, lint."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from aifactory.catalog.records import AssetVersion
from aifactory.cli._output import JsonFlag, emit_json, fmt, print_table, say
from aifactory.cli._session import current
from aifactory.client import AsyncClient
from aifactory.errors import AuthenticationError, ConfigurationError, NotFoundError
from aifactory.plugins import collect, plugin_manager
from aifactory.policy.active import PACK_KIND
from aifactory.policy.lint import Finding, lint
from aifactory.policy.pack_files import load_pack_file
from aifactory.policy.packs import PackSpec
from aifactory.policy.pii.redactor import Redactor
from aifactory.policy.records import PackInfo
from aifactory.policy.rules import ActivePack
from aifactory.settings import Settings

__all__ = ["app"]

app = typer.Typer(
    help="Policy packs: push and install them, list the active ones, explain a decision, lint.",
    no_args_is_help=True,
)

Files = Annotated[list[Path] | None, typer.Argument(help="Pack files (YAML).", show_default=False)]


async def _push(client: AsyncClient, spec: PackSpec, content: dict[str, Any], message: str) -> AssetVersion:
    ref = f"{PACK_KIND}:{spec.name}"
    try:
        await client.assets.get(ref)
    except NotFoundError:
        await client.assets.create(PACK_KIND, spec.name, description=spec.title)
    return await client.assets.push(ref, content, message)


def _activation_hint(name: str, version: AssetVersion) -> str:
    ref = f"{PACK_KIND}:{name}"
    return (
        f"to activate: someone else runs `aifactory assets approve {ref} {version.number}`, then "
        f"`aifactory assets promote {ref} {version.number} --label production`"
    )


@app.command("push")
def push(
    file: Annotated[Path, typer.Argument(help="The pack file (YAML).")],
    message: Annotated[str, typer.Option("--message", "-m", help="What changed.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Validate a pack file (errors name the line) and push it as a new version of its asset."""
    spec, content = load_pack_file(file)
    version = current().call(lambda c: _push(c, spec, content, message))
    if json_:
        emit_json(version)
        return
    state = "created" if version.created else "unchanged: identical content is"
    say(f"{state} version {version.number} of {PACK_KIND}:{spec.name} ({version.content_hash[:12]})")
    say(_activation_hint(spec.name, version))


def builtin_pack_files() -> list[Path]:
    """The pack files every installed plugin registers (the built-ins first)."""
    return [Path(p) for p in collect(plugin_manager(), "aifactory_register_policy_packs")]


@app.command("install")
def install(json_: JsonFlag = False) -> None:
    """Register the built-in (and plugins') packs in the catalog, inactive: activating one needs a
    second person's approval and a promotion, as for any asset."""
    packs = [load_pack_file(path) for path in builtin_pack_files()]

    async def run(client: AsyncClient) -> list[AssetVersion]:
        return [
            await _push(client, spec, content, "installed by aifactory policy install")
            for spec, content in packs
        ]

    versions = current().call(run)
    if json_:
        emit_json(
            [{"name": s.name, **v.model_dump(mode="json")} for (s, _), v in zip(packs, versions, strict=True)]
        )
        return
    rows = [
        [s.name, v.number, "created" if v.created else "unchanged", s.status]
        for (s, _), v in zip(packs, versions, strict=True)
    ]
    print_table("Policy packs installed (not active)", ["pack", "version", "state", "status"], rows)
    say(
        "activate one: `aifactory assets approve policy-pack:<name> <version>` (someone else), then "
        "`aifactory assets promote policy-pack:<name> <version> --label production`"
    )


@app.command("packs")
def packs(json_: JsonFlag = False) -> None:
    """List the active pack versions (those under the policy label)."""
    found = current().call(lambda c: c.policy.packs())
    if json_:
        emit_json(found)
        return
    rows = [[f"{p.name}@{p.version}", p.title, _scope_text(p.scope), p.rules] for p in found]
    print_table("Active policy packs", ["pack", "title", "scope", "rules"], rows)


def _scope_text(scope: dict[str, Any]) -> str:
    return "; ".join(f"{k}: {', '.join(v)}" for k, v in scope.items() if v) or "everywhere"


def _at(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date or date-time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _attributes(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{pair!r}: give attributes as key=value")
        found[key] = value
    return found


@app.command("explain")
def explain(
    jurisdiction: Annotated[str | None, typer.Option(help="ISO code: DE, US-CO, ...")] = None,
    surface: Annotated[str | None, typer.Option(help="chat, voice, api, batch or agent.")] = None,
    risk_class: Annotated[str | None, typer.Option(help="prohibited, high, limited or minimal.")] = None,
    use_case: Annotated[str | None, typer.Option(help="The use case.")] = None,
    data_category: Annotated[list[str] | None, typer.Option(help="e.g. personal_data (repeatable).")] = None,
    purpose: Annotated[str | None, typer.Option(help="e.g. employment, social_scoring.")] = None,
    role: Annotated[list[str] | None, typer.Option(help="A role of the principal (repeatable).")] = None,
    attribute: Annotated[list[str] | None, typer.Option(help="key=value (repeatable).")] = None,
    principal: Annotated[str | None, typer.Option(help="Default: you.")] = None,
    at: Annotated[str | None, typer.Option(help="Decide at this date or instant (default: now).")] = None,
    json_: JsonFlag = False,
) -> None:
    """Decide a context against the active packs (a dry run) and show every reason, and why each
    other rule did not apply."""
    context: dict[str, Any] = {
        "jurisdiction": jurisdiction,
        "surface": surface,
        "risk_class": risk_class,
        "use_case": use_case,
        "data_categories": data_category or None,
        "purpose": purpose,
        "roles": role or None,
        "attributes": _attributes(attribute or []) or None,
        "principal": principal,
    }
    when = _at(at) if at else None
    result = current().call(lambda c: c.policy.decide(at=when, **context))
    if json_:
        emit_json(result)
        return
    _show(result)


def _show(result: dict[str, Any]) -> None:
    packs = ", ".join(result["packs"]) or "none"
    say(f"outcome: {result['outcome']}   (decision {result['id']}, packs in scope: {packs})", "bold")
    shown = {k: v for k, v in result["obligations"].items() if v not in (None, [], {}, False)}
    if "redact" not in shown:
        shown.pop("redact_scope", None)
    obligations = [[k, "\n".join(v) if k == "disclosures" else fmt(v)] for k, v in shown.items()]
    print_table("Obligations", ["obligation", "value"], obligations)
    reasons = [[r["pack"], r["rule"], r["effect"], r["detail"], r["source"]] for r in result["reasons"]]
    print_table("Reasons", ["pack", "rule", "effect", "detail", "source"], reasons)
    missed = [[n["pack"], n["rule"], n["why"]] for n in result["not_applied"]]
    print_table("Did not apply", ["pack", "rule", "why"], missed)
    say(f"digest: {result['digest']}")


def _active_packs() -> list[PackInfo]:
    try:
        return current().call(lambda c: c.policy.packs())
    except (ConfigurationError, AuthenticationError) as exc:
        say(f"note: linting the built-in packs only ({exc.detail})", "yellow")
        return []


def _lint_set(files: list[Path]) -> list[tuple[str, ActivePack]]:
    if files:
        return [
            (f"{spec.name} ({path})", ActivePack(spec.name, 0, spec))
            for path in files
            for spec in [load_pack_file(path)[0]]
        ]
    active = [
        (f"{p.name}@{p.version}", ActivePack(p.name, p.version, PackSpec.model_validate(p.content)))
        for p in _active_packs()
    ]
    names = {pack.name for _, pack in active}
    builtin = [
        (f"{s.name} (built-in)", ActivePack(s.name, 0, s))
        for s in (load_pack_file(p)[0] for p in builtin_pack_files())
    ]
    return active + [item for item in builtin if item[1].name not in names]


def _detectable(settings: Settings) -> frozenset[str]:
    """The PII types the configured detector finds."""
    factories = dict(collect(plugin_manager(), "aifactory_register_pii_detectors"))
    return Redactor.from_settings(settings, factories).detector.supported


@app.command("lint")
def lint_(files: Files = None, json_: JsonFlag = False) -> None:
    """Find conflicting, shadowed and unreachable rules in pack files (default: the built-in packs
    and the active ones); exits 1 when there is an error-level finding."""
    settings = current().settings
    findings: list[Finding] = lint(
        _lint_set(files or []), settings.policy_date_tracks, detectable=_detectable(settings)
    )
    errors = [f for f in findings if f.severity == "error"]
    if json_:
        emit_json([f.as_json() for f in findings])
    else:
        rows = [[f.severity, f.kind, f.rule, f.message] for f in findings]
        print_table("Policy lint", ["severity", "kind", "rule", "finding"], rows)
        say(f"{len(errors)} error(s), {len(findings) - len(errors)} note(s)")
    if errors:
        raise typer.Exit(1)
