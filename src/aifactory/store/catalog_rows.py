"""SQL for the catalog: assets, versions, labels, label history, approvals."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, delete, func, insert, select, update

from aifactory.store.schema import (
    approvals,
    asset_labels,
    asset_versions,
    assets,
    label_canaries,
    label_moves,
    version_states,
)

__all__ = [
    "approvals_of",
    "asset",
    "assets_due",
    "assets_list",
    "canaries_of",
    "delete_canary",
    "delete_label",
    "insert_approval",
    "insert_asset",
    "insert_label_move",
    "insert_version",
    "kind_snapshot",
    "label_history",
    "label_pins",
    "labels_of",
    "max_version",
    "set_canary",
    "set_label",
    "set_review_by",
    "set_state",
    "states_of",
    "version",
    "version_by_hash",
    "versions_of",
]


def insert_asset(conn: Connection, values: dict[str, Any]) -> None:
    """Register an asset."""
    conn.execute(insert(assets).values(**values))


def asset(conn: Connection, ref: str) -> RowMapping | None:
    """An asset by id or by `kind:name`."""
    query = select(assets).where(assets.c.id == ref)
    if ":" in ref:
        kind, name = ref.split(":", 1)
        query = select(assets).where(
            (assets.c.id == ref) | ((assets.c.kind == kind) & (assets.c.name == name))
        )
    return conn.execute(query).mappings().first()


def assets_list(conn: Connection, kind: str | None = None) -> Sequence[RowMapping]:
    """Assets, optionally of one kind, by kind and name."""
    query = select(assets).order_by(assets.c.kind, assets.c.name)
    if kind is not None:
        query = query.where(assets.c.kind == kind)
    return conn.execute(query).mappings().all()


def assets_due(conn: Connection, today: date) -> Sequence[RowMapping]:
    """Assets whose review date has passed, most overdue first."""
    query = select(assets).where(assets.c.review_by < today, assets.c.status != "retired")
    return conn.execute(query.order_by(assets.c.review_by, assets.c.name)).mappings().all()


def set_review_by(conn: Connection, asset_id: str, review_by: date) -> None:
    """Move an asset's next review date."""
    conn.execute(update(assets).where(assets.c.id == asset_id).values(review_by=review_by))


def insert_version(conn: Connection, values: dict[str, Any]) -> None:
    """Store a new immutable version."""
    conn.execute(insert(asset_versions).values(**values))


def max_version(conn: Connection, asset_id: str) -> int:
    """The highest version number of an asset (0 when none)."""
    query = select(func.max(asset_versions.c.number)).where(asset_versions.c.asset_id == asset_id)
    return int(conn.execute(query).scalar() or 0)


def version(conn: Connection, asset_id: str, number: int) -> RowMapping | None:
    """One version of an asset."""
    query = select(asset_versions).where(
        asset_versions.c.asset_id == asset_id, asset_versions.c.number == number
    )
    return conn.execute(query).mappings().first()


def version_by_hash(conn: Connection, asset_id: str, content_hash: str) -> RowMapping | None:
    """The version of an asset with this content hash, if any."""
    query = select(asset_versions).where(
        asset_versions.c.asset_id == asset_id, asset_versions.c.content_hash == content_hash
    )
    return conn.execute(query).mappings().first()


def versions_of(conn: Connection, asset_id: str) -> Sequence[RowMapping]:
    """Every version of an asset, oldest first."""
    query = select(asset_versions).where(asset_versions.c.asset_id == asset_id)
    return conn.execute(query.order_by(asset_versions.c.number)).mappings().all()


def labels_of(conn: Connection, asset_id: str) -> dict[str, int]:
    """Where each label of an asset points."""
    query = select(asset_labels.c.label, asset_labels.c.version_number).where(
        asset_labels.c.asset_id == asset_id
    )
    return {str(r[0]): int(r[1]) for r in conn.execute(query)}


def set_label(
    conn: Connection, asset_id: str, label: str, number: int, actor: str, at: datetime, pins: str | None
) -> None:
    """Point a label at a version (insert or move), with what that version's includes resolved to."""
    values = {"version_number": number, "moved_by": actor, "moved_at": at, "pins": pins}
    result = conn.execute(
        update(asset_labels)
        .where(asset_labels.c.asset_id == asset_id, asset_labels.c.label == label)
        .values(**values)
    )
    if result.rowcount == 0:
        conn.execute(insert(asset_labels).values(asset_id=asset_id, label=label, **values))


def delete_label(conn: Connection, asset_id: str, label: str) -> None:
    """Remove a label from an asset."""
    conn.execute(
        delete(asset_labels).where(asset_labels.c.asset_id == asset_id, asset_labels.c.label == label)
    )


def label_pins(conn: Connection, asset_id: str) -> dict[str, str | None]:
    """The pins (JSON) of each label of an asset."""
    query = select(asset_labels.c.label, asset_labels.c.pins).where(asset_labels.c.asset_id == asset_id)
    return {str(r[0]): r[1] for r in conn.execute(query)}


def canaries_of(conn: Connection, asset_id: str) -> Sequence[RowMapping]:
    """The canary of each label of an asset that has one."""
    query = select(label_canaries).where(label_canaries.c.asset_id == asset_id)
    return conn.execute(query).mappings().all()


def set_canary(conn: Connection, values: dict[str, Any]) -> None:
    """Start or change a label's canary."""
    delete_canary(conn, values["asset_id"], values["label"])
    conn.execute(insert(label_canaries).values(**values))


def delete_canary(conn: Connection, asset_id: str, label: str) -> bool:
    """End a label's canary; False when it had none."""
    result = conn.execute(
        delete(label_canaries).where(label_canaries.c.asset_id == asset_id, label_canaries.c.label == label)
    )
    return bool(result.rowcount)


def states_of(conn: Connection, asset_id: str) -> dict[int, RowMapping]:
    """The lifecycle marks people set on an asset's versions, by version number."""
    query = select(version_states).where(version_states.c.asset_id == asset_id)
    return {int(r["version_number"]): r for r in conn.execute(query).mappings()}


def set_state(conn: Connection, values: dict[str, Any]) -> None:
    """Mark a version candidate, deprecated or retired."""
    conn.execute(
        delete(version_states).where(
            version_states.c.asset_id == values["asset_id"],
            version_states.c.version_number == values["version_number"],
        )
    )
    conn.execute(insert(version_states).values(**values))


def insert_label_move(conn: Connection, values: dict[str, Any]) -> None:
    """Record one label move in the history."""
    conn.execute(insert(label_moves).values(**values))


def label_history(conn: Connection, asset_id: str) -> Sequence[RowMapping]:
    """Every label move of an asset, oldest first."""
    query = select(label_moves).where(label_moves.c.asset_id == asset_id).order_by(label_moves.c.id)
    return conn.execute(query).mappings().all()


def insert_approval(conn: Connection, values: dict[str, Any]) -> None:
    """Record an approval of a version."""
    conn.execute(insert(approvals).values(**values))


def approvals_of(conn: Connection, asset_id: str, number: int) -> Sequence[RowMapping]:
    """Approvals of one version, oldest first."""
    query = select(approvals).where(approvals.c.asset_id == asset_id, approvals.c.version_number == number)
    return conn.execute(query.order_by(approvals.c.id)).mappings().all()


def kind_snapshot(
    conn: Connection, kind: str, asset_id: str | None = None
) -> dict[str, Sequence[RowMapping]]:
    """Everything about the assets of one kind (or one of them), in five queries: `assets`,
    `versions`, `labels` (with pins), `canaries` and `states` (lifecycle marks)."""
    which = assets.c.kind == kind
    if asset_id is not None:
        which = which & (assets.c.id == asset_id)
    found = conn.execute(select(assets).where(which)).mappings().all()
    if not found:
        return {"assets": [], "versions": [], "labels": [], "canaries": [], "states": []}
    ids = select(assets.c.id).where(which)
    return {
        "assets": found,
        "versions": conn.execute(select(asset_versions).where(asset_versions.c.asset_id.in_(ids)))
        .mappings()
        .all(),
        "labels": conn.execute(select(asset_labels).where(asset_labels.c.asset_id.in_(ids))).mappings().all(),
        "canaries": conn.execute(select(label_canaries).where(label_canaries.c.asset_id.in_(ids)))
        .mappings()
        .all(),
        "states": conn.execute(select(version_states).where(version_states.c.asset_id.in_(ids)))
        .mappings()
        .all(),
    }
