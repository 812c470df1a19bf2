"""`aifactory assets`: the catalog, versions, approvals, label moves (through the gates), reviews."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from aifactory.catalog.records import Asset, AssetVersion, LabelMove
from aifactory.cli._content import read_content
from aifactory.cli._output import JsonFlag, emit_json, print_table, say
from aifactory.cli._session import current
from aifactory.client import AsyncClient

__all__ = ["app"]

app = typer.Typer(help="Governed assets: versions, approvals, labels, reviews.", no_args_is_help=True)

Ref = Annotated[str, typer.Argument(help="Asset id or `kind:name`.")]
Number = Annotated[int, typer.Argument(help="Version number.", min=1)]


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


def _assets_table(title: str, assets: list[Asset]) -> None:
    columns = ["id", "asset", "owner", "steward", "review by", "labels", "status", "critical"]
    rows = [
        [
            a.id,
            f"{a.kind}:{a.name}",
            a.owner_id,
            a.steward_team_id,
            a.review_by,
            a.labels,
            a.status,
            a.critical,
        ]
        for a in assets
    ]
    print_table(title, columns, rows)


def _versions_table(asset: Asset, versions: list[AssetVersion]) -> None:
    labels_of: dict[int, list[str]] = {}
    for label, number in asset.labels.items():
        labels_of.setdefault(number, []).append(label)
    rows = [
        [v.number, v.content_hash[:12], v.author_id, v.created_at, labels_of.get(v.number), v.message]
        for v in versions
    ]
    print_table("Versions", ["#", "content hash", "author", "created", "labels", "message"], rows)


def _moves_table(moves: list[LabelMove]) -> None:
    columns = ["at", "label", "from", "to", "actor", "reason"]
    rows = [[m.at, m.label, m.from_version, m.to_version, m.actor_id, m.reason] for m in moves]
    print_table("Label history", columns, rows)


@app.command("create")
def create(
    kind: Annotated[str, typer.Argument(help="prompt, policy_pack, route, dataset, ...")],
    name: Annotated[str, typer.Argument(help="Unique within its kind.")],
    description: Annotated[str, typer.Option(help="What it is for.")] = "",
    owner: Annotated[str | None, typer.Option(help="Owning principal; default: you.")] = None,
    steward_team: Annotated[str | None, typer.Option(help="Stewarding team.")] = None,
    review_by: Annotated[date | None, typer.Option(parser=_date, help="Next review (YYYY-MM-DD).")] = None,
    retirement_condition: Annotated[str, typer.Option(help="When to retire it.")] = "",
    critical: Annotated[bool, typer.Option(help="Needs two approvals for protected labels.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Register a governed asset."""
    asset = current().call(
        lambda c: c.assets.create(
            kind,
            name,
            description=description,
            owner=owner,
            steward_team=steward_team,
            review_by=review_by,
            retirement_condition=retirement_condition,
            critical=critical,
        )
    )
    if json_:
        emit_json(asset)
        return
    say(f"registered {asset.kind}:{asset.name} ({asset.id}), review by {asset.review_by.isoformat()}")


@app.command("list")
def list_(
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Only assets past their review date.")] = False,
    json_: JsonFlag = False,
) -> None:
    """List assets."""
    assets = current().call(lambda c: c.assets.list(kind=kind, due=due))
    if json_:
        emit_json(assets)
        return
    _assets_table("Assets due for review" if due else "Assets", assets)


@app.command("due")
def due(json_: JsonFlag = False) -> None:
    """List the assets past their review date."""
    list_(kind=None, due=True, json_=json_)


@app.command("show")
def show(ref: Ref, json_: JsonFlag = False) -> None:
    """Show an asset with its labels and versions."""

    async def fetch(c: AsyncClient) -> tuple[Asset, list[AssetVersion]]:
        return await c.assets.get(ref), await c.assets.versions(ref)

    asset, versions = current().call(fetch)
    if json_:
        emit_json({**asset.model_dump(mode="json"), "versions": versions})
        return
    _assets_table(f"{asset.kind}:{asset.name}", [asset])
    if asset.description:
        say(asset.description)
    _versions_table(asset, versions)


@app.command("push")
def push(
    ref: Ref,
    file: Annotated[str, typer.Argument(help="JSON or YAML file with the content object (`-`: stdin).")],
    message: Annotated[str, typer.Option("--message", "-m", help="What changed.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Push a new version; identical content returns the existing version."""
    content = read_content(file)
    version = current().call(lambda c: c.assets.push(ref, content, message))
    if json_:
        emit_json(version)
        return
    if version.created:
        say(f"created version {version.number} of {ref} ({version.content_hash})")
    else:
        say(f"unchanged: identical content is already version {version.number} of {ref}")


@app.command("approve")
def approve(
    ref: Ref,
    version: Number,
    comment: Annotated[str, typer.Option(help="Why.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Approve a version someone else wrote."""
    approval = current().call(lambda c: c.assets.approve(ref, version, comment))
    if json_:
        emit_json(approval)
        return
    say(f"{approval.approver_id} approved version {approval.version_number} of {ref}")


@app.command("promote")
def promote(
    ref: Ref,
    version: Number,
    label: Annotated[str, typer.Option(help="The label to move, e.g. production.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")] = "",
    json_: JsonFlag = False,
) -> None:
    """Move a label to a version, through the gates (refused with every unmet condition)."""
    move = current().call(lambda c: c.assets.move_label(ref, label, version, reason))
    if json_:
        emit_json(move)
        return
    say(f"'{move.label}' of {ref}: version {move.from_version or '-'} -> {move.to_version}")


@app.command("unlabel")
def unlabel(
    ref: Ref,
    label: Annotated[str, typer.Argument(help="The label to remove.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")] = "",
    json_: JsonFlag = False,
) -> None:
    """Remove a label from an asset."""
    move = current().call(lambda c: c.assets.remove_label(ref, label, reason))
    if json_:
        emit_json(move)
        return
    say(f"removed '{move.label}' from {ref} (was version {move.from_version})")


@app.command("rollback")
def rollback(
    ref: Ref,
    label: Annotated[str, typer.Option(help="The label to roll back, e.g. production.")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger).")] = "",
    json_: JsonFlag = False,
) -> None:
    """Roll a label back in one call: end its canary, or return it to its previous version."""
    move = current().call(lambda c: c.assets.rollback(ref, label, reason))
    if json_:
        emit_json(move)
        return
    say(f"'{move.label}' of {ref} rolled back: version {move.from_version} -> {move.to_version}")


@app.command("history")
def history(ref: Ref, json_: JsonFlag = False) -> None:
    """Show every label move of an asset."""
    moves = current().call(lambda c: c.assets.history(ref))
    if json_:
        emit_json(moves)
        return
    _moves_table(moves)


@app.command("review")
def review(
    ref: Ref,
    next_review_by: Annotated[
        date | None, typer.Option(parser=_date, help="Next review (YYYY-MM-DD); default: in review_days.")
    ] = None,
    comment: Annotated[str, typer.Option(help="What the review found.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Record a review of an asset and set its next review date."""
    asset = current().call(lambda c: c.assets.review(ref, next_review_by, comment))
    if json_:
        emit_json(asset)
        return
    say(f"reviewed {asset.kind}:{asset.name}; next review by {asset.review_by.isoformat()}")
