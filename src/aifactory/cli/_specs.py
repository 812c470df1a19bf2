"""What `aifactory deployments` and `aifactory routes` share: list, show, import and export.

One YAML document describes the gateway's catalog assets, in two sections:

    deployments:
      fake-a: {provider: openai, base_url: "http://127.0.0.1:8089/v1", upstream_model: fake-chat}
    routes:
      chat-default: {candidates: [{deployment: fake-a}]}

Import pushes one version per entry (identical content is reported unchanged) and never moves a
label; export writes the versions under a label in the same shape, so its output imports unchanged.
"""

# No `from __future__ import annotations`: the commands' annotations name the asset kind, a closure
# variable that typer could not resolve from postponed (string) annotations.

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from aifactory.catalog.records import Asset, AssetVersion
from aifactory.cli._content import read_content
from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.client import AsyncClient, Published
from aifactory.client.specs import SpecsApi
from aifactory.errors import AifactoryError, InvalidInputError

__all__ = [
    "SECTIONS",
    "Imported",
    "add_shared_commands",
    "export_document",
    "import_document",
    "print_pushed",
]

SECTIONS = {"deployment": "deployments", "route": "routes"}
"""Asset kind -> its section in an import/export document, in import order (routes name deployments)."""


@dataclass(frozen=True)
class Imported:
    """One entry of an imported document and the version it became."""

    kind: str
    name: str
    version: int
    created: bool


def _specs(client: AsyncClient, kind: str) -> SpecsApi:
    return client.deployments if kind == "deployment" else client.routes


def _entries(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, spec) of every entry, deployments first; the document's shape is checked first."""
    unknown = sorted(set(document) - set(SECTIONS.values()))
    if unknown:
        raise InvalidInputError(
            f"unknown section(s) {', '.join(unknown)}: expected deployments and/or routes"
        )
    entries = []
    for kind, section in SECTIONS.items():
        items = document.get(section) or {}
        if not isinstance(items, dict):
            raise InvalidInputError(f"{section} must map each name to its spec")
        for name, spec in items.items():
            if not isinstance(spec, dict):
                raise InvalidInputError(f"{section}.{name} must be a mapping (the spec)")
            entries.append((kind, str(name), spec))
    return entries


async def import_document(client: AsyncClient, document: dict[str, Any], message: str) -> list[Imported]:
    """Push every entry as a version (in order); a refused entry raises, naming it."""
    done: list[Imported] = []
    for kind, name, spec in _entries(document):
        try:
            version = await _specs(client, kind).create(name, spec, message=message)
        except AifactoryError as error:
            detail = f"{kind} {name}: {error.detail} ({len(done)} earlier entries were pushed)"
            raise type(error)(detail, **error.extra) from error
        done.append(Imported(kind, name, version.number, version.created))
    return done


async def export_document(client: AsyncClient, label: str, kinds: list[str]) -> dict[str, Any]:
    """The import document of the versions under `label` of the given kinds."""
    document = {}
    for kind in kinds:
        versions = await _specs(client, kind).labelled(label)
        document[SECTIONS[kind]] = {name: version.content for name, version in versions.items()}
    return document


def _list_table(kind: str, assets: list[Asset]) -> None:
    columns = ["name", "labels", "status", "owner", "review by", "id"]
    rows = [[a.name, a.labels, a.status, a.owner_id, a.review_by, a.id] for a in assets]
    print_table(f"{SECTIONS[kind].capitalize()}", columns, rows)


def _print_published(kind: str, published: Published) -> None:
    asset = published.asset
    say(f"{kind}:{asset.name} ({asset.id}), owner {asset.owner_id}, status {asset.status}", "bold")
    if not published.labelled:
        say(f"no label yet: promote a version: `aifactory assets promote {kind}:{asset.name} V --label L`")
    for label, version in published.labelled.items():
        say(f"{label}: version {version.number} ({version.content_hash[:12]}) by {version.author_id}")
        typer.echo(yaml.safe_dump(version.content, sort_keys=False, allow_unicode=True), nl=False)


def _print_imported(done: list[Imported], as_json: bool) -> None:
    if as_json:
        emit_json([vars(entry) for entry in done])
        return
    rows = [[e.kind, e.name, e.version, "created" if e.created else "unchanged"] for e in done]
    print_table("Imported", ["kind", "name", "version", "result"], rows)
    created = sum(e.created for e in done)
    say(f"{created} created, {len(done) - created} unchanged; no label moved (`aifactory assets promote`)")


def _write_export(document: dict[str, Any], label: str, file: Path | None, as_json: bool) -> None:
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    counts = {section: sorted(entries) for section, entries in document.items()}
    if file is None and as_json:
        emit_json(document)
        return
    if file is None:
        typer.echo(text, nl=False)
        return
    try:
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot write {file}: {exc}") from exc
    if as_json:
        emit_json({"file": str(file), "label": label, **counts})
        return
    summary = ", ".join(f"{len(names)} {section}" for section, names in counts.items())
    say(f"wrote {summary} under label {label} to {file}")


def add_shared_commands(app: typer.Typer, kind: str) -> None:
    """Register `list`, `show`, `import` and `export` for the assets of `kind` on `app`."""
    for register in (_list_command, _show_command, _import_command, _export_command):
        register(app, kind)


def _list_command(app: typer.Typer, kind: str) -> None:
    @app.command("list", help=f"List the {SECTIONS[kind]} in the catalog, with their labels.")
    def list_(json_: JsonFlag = False) -> None:
        assets = current().call(lambda c: _specs(c, kind).list())
        if json_:
            emit_json(assets)
            return
        _list_table(kind, assets)


def _show_command(app: typer.Typer, kind: str) -> None:
    @app.command("show", help=f"Show a {kind} and the spec under each of its labels.")
    def show(
        name: Annotated[str, typer.Argument(help=f"The {kind}'s name.")],
        json_: JsonFlag = False,
    ) -> None:
        published = current().call(lambda c: _specs(c, kind).show(name))
        if json_:
            emit_json({"asset": published.asset, "labels": published.labelled})
            return
        _print_published(kind, published)


def _import_command(app: typer.Typer, kind: str) -> None:
    @app.command("import", help="Push every entry of a YAML file (deployments and/or routes) as a version.")
    def import_(
        file: Annotated[
            str, typer.Argument(help="YAML (or .json) file with `deployments:` and/or `routes:`.")
        ],
        message: Annotated[str, typer.Option("--message", "-m", help="What changed.")] = "",
        json_: JsonFlag = False,
    ) -> None:
        document = read_content(file)
        note = message or f"imported from {Path(file).name}"
        done = current().call(lambda c: import_document(c, document, note))
        _print_imported(done, json_)


def _export_command(app: typer.Typer, kind: str) -> None:
    others = [k for k in SECTIONS if k != kind]

    @app.command("export", help=f"Write the {SECTIONS[kind]} under a label as YAML that imports unchanged.")
    def export(
        file: Annotated[Path | None, typer.Argument(help="Write here (default: stdout).")] = None,
        label: Annotated[str, typer.Option(help="Export the versions under this label.")] = "production",
        all_: Annotated[
            bool, typer.Option("--all", help=f"Also export the {', '.join(SECTIONS[k] for k in others)}.")
        ] = False,
        json_: JsonFlag = False,
    ) -> None:
        kinds = list(SECTIONS) if all_ else [kind]
        document = current().call(lambda c: export_document(c, label, kinds))
        _write_export(document, label, file, json_)


def print_pushed(version: AssetVersion, ref: str) -> None:
    """What `create` says: the version, and how it gets served (approval, then promotion)."""
    if not version.created:
        say(f"unchanged: identical content is already version {version.number} of {ref}")
        return
    say(f"created version {version.number} of {ref} ({version.content_hash[:12]})")
    say(
        f"to serve it: a second person runs `aifactory assets approve {ref} {version.number}`, then "
        f"`aifactory assets promote {ref} {version.number} --label production`",
        "dim",
    )
