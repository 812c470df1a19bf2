"""Releases: the one choke point through which every label moves, a label's canary, and rollback.

Every path (HTTP, CLI, SDK, console) ends here. A move runs the gates the gate policy names for the
asset's kind and the label, and resolves what the version includes to content hashes (its pins), so
what was approved is what is served. A refusal lists every unmet condition, changes nothing, and is
itself a ledger entry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from aifactory.catalog import _load
from aifactory.catalog.gates import Gate, MoveContext
from aifactory.catalog.records import LABEL_PATTERN, Approval, Asset, AssetVersion, CanaryIn, LabelMove
from aifactory.errors import (
    ConfigurationError,
    ConflictError,
    GateRefusedError,
    InvalidInputError,
    NotFoundError,
)
from aifactory.ledger import Event, Ledger
from aifactory.store import catalog_rows as rows
from aifactory.store.changes import bump
from aifactory.store.db import Database
from aifactory.store.notify import notify

__all__ = ["Pinner", "Releases"]

Pinner = Callable[[dict[str, Any], _load.Lookup], tuple[dict[str, str], list[str]]]
"""A kind's pinner: given a version's content and a lookup, the content hash each thing it includes
resolves to now (`ref` -> hash), and every include that cannot be resolved (as unmet conditions)."""

_LABEL = re.compile(LABEL_PATTERN)
_UNPINNABLE = ("deprecated", "retired")


class Releases:
    """Moves labels through the gates; starts, ends and rolls back canaries."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        gates: Sequence[Gate],
        label_gates: Mapping[str, Sequence[str]],
        pinners: Mapping[str, Pinner] | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.gates = {gate.name: gate for gate in gates}
        self.label_gates = _gate_policy(label_gates, self.gates)
        self.pinners = dict(pinners or {})
        self.changed: list[Callable[[str], None]] = []
        """Called with the asset id after each committed change (this process sees its own changes at
        once)."""

    def gates_for(self, kind: str, label: str) -> tuple[str, ...]:
        """The gates a move of `label` on an asset of `kind` must pass (`kind:label` wins over `label`)."""
        return self.label_gates.get(f"{kind}:{label}", self.label_gates.get(label, ()))

    def history(self, ref: str) -> list[LabelMove]:
        """Every label move of an asset, oldest first."""
        with self.db.read() as conn:
            found = rows.label_history(conn, _load.asset_row(conn, ref)["id"])
            return [LabelMove(**{k: v for k, v in r.items() if k not in ("id", "pins")}) for r in found]

    # --- moves ------------------------------------------------------------------------------------

    def move(self, ref: str, label: str, number: int | None, actor: str, reason: str = "") -> LabelMove:
        """Point `label` at version `number`, or remove it (`number` None), if every gate passes.

        A move ends the label's canary (promoting the canary is moving the label to it).
        """
        _check_label(label)
        return self._refusals_recorded(
            label, number, actor, lambda: self._move(ref, label, number, actor, reason)
        )

    def _move(self, ref: str, label: str, number: int | None, actor: str, reason: str) -> LabelMove:
        with self.db.write() as conn:
            asset = _load.asset(conn, _load.asset_row(conn, ref))
            current = asset.labels.get(label)
            pins: dict[str, str] | None = None
            if number is None:
                if current is None:
                    raise NotFoundError(f"{asset.kind}:{asset.name} has no label '{label}'")
                rows.delete_label(conn, asset.id, label)
            else:
                if current == number:
                    raise ConflictError(f"label '{label}' already points at version {number}")
                version = self._releasable(conn, asset, number)
                pins = self._checked(conn, asset, version, label, actor, current)
                rows.set_label(conn, asset.id, label, number, actor, datetime.now(UTC), _json(pins))
            canary = asset.canaries.get(label)
            rows.delete_canary(conn, asset.id, label)
            data: dict[str, Any] = {"label": label, "from": current, "to": number, "reason": reason}
            if pins:
                data["pins"] = pins
            if canary is not None:
                data["canary_ended"] = canary.version
            kind = "remove" if number is None else "move"
            return self._record(conn, asset, label, current, number, actor, reason, kind, pins, data)

    def canary(self, ref: str, label: str, spec: CanaryIn, actor: str) -> LabelMove:
        """Serve `spec.version` to `spec.percent` of the label's subjects (sticky), through its gates."""
        _check_label(label)
        return self._refusals_recorded(
            label, spec.version, actor, lambda: self._canary(ref, label, spec, actor)
        )

    def _canary(self, ref: str, label: str, spec: CanaryIn, actor: str) -> LabelMove:
        with self.db.write() as conn:
            asset = _load.asset(conn, _load.asset_row(conn, ref))
            stable = asset.labels.get(label)
            if stable is None:
                raise ConflictError(
                    f"{asset.kind}:{asset.name} has no label '{label}' yet: a canary splits a label's "
                    f"traffic, so move '{label}' to a stable version first"
                )
            if stable == spec.version:
                raise ConflictError(f"label '{label}' already serves version {stable} to everyone")
            version = self._releasable(conn, asset, spec.version)
            pins = self._checked(conn, asset, version, label, actor, stable)
            now = datetime.now(UTC)
            ramp = [step.model_dump() for step in spec.ramp]
            rows.set_canary(
                conn,
                {
                    "asset_id": asset.id,
                    "label": label,
                    "version_number": spec.version,
                    "percent": spec.percent,
                    "ramp": json.dumps(ramp),
                    "pins": _json(pins),
                    "started_by": actor,
                    "started_at": now,
                },
            )
            data = {
                "label": label,
                "stable": stable,
                "canary": spec.version,
                "percent": spec.percent,
                "ramp": ramp,
                "reason": spec.reason,
            } | ({"pins": pins} if pins else {})
            return self._record(
                conn,
                asset,
                label,
                stable,
                spec.version,
                actor,
                spec.reason,
                "canary",
                pins,
                data,
                spec.percent,
            )

    def end_canary(self, ref: str, label: str, actor: str, reason: str = "") -> LabelMove:
        """Stop the label's canary: its stable version serves everyone again."""
        return self._done(self._end_canary(ref, label, actor, reason))

    def _end_canary(self, ref: str, label: str, actor: str, reason: str) -> LabelMove:
        with self.db.write() as conn:
            asset = _load.asset(conn, _load.asset_row(conn, ref))
            if label not in asset.canaries:
                raise NotFoundError(f"label '{label}' of {asset.kind}:{asset.name} has no canary")
            return self._drop_canary(conn, asset, label, actor, reason, "canary_end")

    def _drop_canary(
        self, conn: Connection, asset: Asset, label: str, actor: str, reason: str, kind: str
    ) -> LabelMove:
        """End the label's canary (`kind`: canary_end, or rollback); the stable version serves all."""
        canary, stable = asset.canaries[label].version, asset.labels.get(label)
        rows.delete_canary(conn, asset.id, label)
        data = {"label": label, "from": canary, "to": stable, "canary": True, "reason": reason}
        return self._record(conn, asset, label, canary, stable, actor, reason, kind, None, data)

    def rollback(self, ref: str, label: str, actor: str, reason: str = "") -> LabelMove:
        """Put a label back in one step: end its canary if it has one, else return it to the version it
        pointed at before (with that version's pins). No gate runs: that version passed them when it
        was released, and a rollback must work when the gates cannot (an open incident)."""
        return self._done(self._rollback(ref, label, actor, reason))

    def _rollback(self, ref: str, label: str, actor: str, reason: str) -> LabelMove:
        with self.db.write() as conn:
            asset = _load.asset(conn, _load.asset_row(conn, ref))
            current = asset.labels.get(label)
            if current is None:
                raise NotFoundError(f"{asset.kind}:{asset.name} has no label '{label}'")
            if label in asset.canaries:
                return self._drop_canary(conn, asset, label, actor, reason, "rollback")
            previous, pins = _previous(conn, asset, label, current)
            state = rows.states_of(conn, asset.id).get(previous)
            if state is not None and state["state"] == "retired":
                raise ConflictError(
                    f"the previous version of '{label}', {previous}, is retired; move the label instead"
                )
            rows.set_label(conn, asset.id, label, previous, actor, datetime.now(UTC), _json(pins))
            data = {"label": label, "from": current, "to": previous, "canary": False, "reason": reason}
            return self._record(conn, asset, label, current, previous, actor, reason, "rollback", pins, data)

    # --- shared -----------------------------------------------------------------------------------

    def _refusals_recorded(
        self, label: str, number: int | None, actor: str, move: Callable[[], LabelMove]
    ) -> LabelMove:
        try:
            return self._done(move())
        except GateRefusedError as refused:
            self.ledger.append(
                Event(
                    "asset.label_move_refused",
                    f"asset:{refused.extra['asset_id']}",
                    actor,
                    {"label": label, "version": number, "unmet": refused.extra["unmet"]},
                )
            )
            raise

    def _done(self, move: LabelMove) -> LabelMove:
        for listener in self.changed:
            listener(move.asset_id)
        return move

    def _releasable(self, conn: Connection, asset: Asset, number: int) -> AssetVersion:
        version = _load.version(_load.version_row(conn, asset.id, number))
        state = rows.states_of(conn, asset.id).get(number)
        if state is not None and state["state"] in _UNPINNABLE:
            raise ConflictError(
                f"version {number} of {asset.kind}:{asset.name} is {state['state']}; release a newer version"
            )
        return version

    def _checked(
        self,
        conn: Connection,
        asset: Asset,
        version: AssetVersion,
        label: str,
        actor: str,
        current: int | None,
    ) -> dict[str, str]:
        """Run the gates and pin the includes; refuse with every unmet condition at once."""
        pins, unmet = self._pins(conn, asset.kind, version)
        approvals = [Approval(**r) for r in rows.approvals_of(conn, asset.id, version.number)]
        ctx = MoveContext(asset, version, label, actor, current, approvals, conn)
        unmet += [
            condition
            for name in self.gates_for(asset.kind, label)
            for condition in self.gates[name].unmet(ctx)
        ]
        if unmet:
            raise GateRefusedError(
                f"cannot move '{label}' of {asset.kind}:{asset.name} to version {version.number}: "
                + "; ".join(unmet),
                unmet=unmet,
                asset_id=asset.id,
            )
        return pins

    def _pins(self, conn: Connection, kind: str, version: AssetVersion) -> tuple[dict[str, str], list[str]]:
        pinner = self.pinners.get(kind)
        if pinner is None:
            return {}, []
        return pinner(version.content, _load.lookup(conn))

    def _record(
        self,
        conn: Connection,
        asset: Asset,
        label: str,
        from_version: int | None,
        to_version: int | None,
        actor: str,
        reason: str,
        kind: str,
        pins: dict[str, str] | None,
        data: dict[str, Any],
        percent: float | None = None,
    ) -> LabelMove:
        move = LabelMove(
            asset_id=asset.id,
            label=label,
            from_version=from_version,
            to_version=to_version,
            actor_id=actor,
            reason=reason,
            at=datetime.now(UTC),
            kind=kind,
            percent=percent,
        )
        rows.insert_label_move(conn, move.model_dump() | {"pins": _json(pins)})
        self.ledger.enqueue(conn, Event(_EVENTS[kind], f"asset:{asset.id}", actor, data))
        bump(conn, "catalog")
        notify(conn, "catalog")
        return move


_EVENTS = {
    "move": "asset.label_moved",
    "remove": "asset.label_moved",
    "canary": "asset.canary_started",
    "canary_end": "asset.canary_ended",
    "rollback": "asset.label_rolled_back",
}


def _previous(conn: Connection, asset: Asset, label: str, current: int) -> tuple[int, dict[str, str] | None]:
    """The version the label pointed at before `current`, and the pins it was served with then."""
    moves = [m for m in rows.label_history(conn, asset.id) if m["label"] == label and m["kind"] == "move"]
    arrived = next((m for m in reversed(moves) if m["to_version"] == current), None)
    if arrived is None or arrived["from_version"] is None:
        raise ConflictError(
            f"label '{label}' of {asset.kind}:{asset.name} has pointed at version {current} since it was "
            "first set: there is no earlier version to roll back to"
        )
    previous = int(arrived["from_version"])
    earlier = next(
        (m for m in reversed(moves) if m["to_version"] == previous and m["id"] < arrived["id"]), None
    )
    pins = json.loads(earlier["pins"]) if earlier is not None and earlier["pins"] else None
    return previous, pins


def _check_label(label: str) -> None:
    if not _LABEL.match(label):
        raise InvalidInputError(
            f"invalid label {label!r}: use lowercase letters, digits, '-' and '_', "
            "starting with a letter (at most 64 characters)"
        )


def _json(pins: dict[str, str] | None) -> str | None:
    return json.dumps(pins, sort_keys=True) if pins else None


def _gate_policy(
    policy: Mapping[str, Sequence[str]], gates: Mapping[str, Gate]
) -> dict[str, tuple[str, ...]]:
    unknown = sorted({name for names in policy.values() for name in names} - set(gates))
    if unknown:
        raise ConfigurationError(
            f"label_gates names unknown gate(s) {', '.join(unknown)}; "
            f"registered gates: {', '.join(sorted(gates)) or 'none'}"
        )
    return {key: tuple(names) for key, names in policy.items()}
