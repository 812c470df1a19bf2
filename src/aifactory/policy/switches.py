"""Kill switches: stop or restrict service for a scope at once, on every replica within a second.

A switch sets one scope (`global`, a `jurisdiction`, a `use_case`, a `deployment` or a `tool`) to a
level of the ladder `full` -> `no_write_tools` -> `no_tools` -> `canned_reply` -> `off`. A request's
level is the strictest of the global, jurisdiction and use-case switches that cover it (a switch on
`EU` covers `DE`; one on `US` covers `US-CA`). A deployment switch at any level but `full` takes the
deployment out of routing; a tool switch disables that one tool.

Every flip is one transaction: the row, its ledger entry (`kill_switch.flipped`), the change feed's
counter and a PostgreSQL NOTIFY. The switches live in memory: the gateway reads them without
touching the database. This process reloads at once; other replicas reload on the NOTIFY
(PostgreSQL) or on the change feed's next poll (`change_poll_interval`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from pydantic import ValidationError
from sqlalchemy import RowMapping

from aifactory.errors import InvalidInputError, NotFoundError
from aifactory.ledger import Event, Ledger
from aifactory.policy.jurisdictions import covering
from aifactory.policy.switch_records import (
    LEVELS,
    Level,
    Restriction,
    Scope,
    Switch,
    SwitchIn,
    normalise_value,
    switch_id,
)
from aifactory.store import switch_rows as rows
from aifactory.store.changes import bump
from aifactory.store.db import Database
from aifactory.store.notify import notify

__all__ = ["TOPIC", "KillSwitches"]

TOPIC = "kill_switches"
"""The change-feed topic (and NOTIFY payload) of a flip."""

_FULL = Restriction()


@dataclass(frozen=True)
class _State:
    """The switches set now, indexed the way requests look them up."""

    by_key: dict[tuple[str, str], Switch] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()
    disabled: frozenset[str] = frozenset()

    @classmethod
    def of(cls, switches: Iterable[Switch]) -> _State:
        by_key: dict[tuple[str, str], Switch] = {(s.scope, s.value): s for s in switches}
        return cls(
            by_key,
            frozenset(v for (scope, v) in by_key if scope == "deployment"),
            frozenset(v for (scope, v) in by_key if scope == "tool"),
        )


class KillSwitches:
    """Flips, clears and lists kill switches; answers, from memory, how a request is restricted."""

    def __init__(self, db: Database, ledger: Ledger) -> None:
        self.db = db
        self.ledger = ledger
        self._state = _State()
        self._lock = threading.Lock()
        self.reload()

    # --- the hot path ----------------------------------------------------------------------------

    def level_for(self, jurisdiction: str | None = None, use_case: str | None = None) -> Restriction:
        """The restriction of a request in `jurisdiction` for `use_case` (global switch included)."""
        by_key = self._state.by_key
        if not by_key:
            return _FULL
        keys = [("global", "*")]
        if jurisdiction:
            keys += [("jurisdiction", code) for code in covering(jurisdiction)]
        if use_case:
            keys.append(("use_case", use_case))
        found = [by_key[key] for key in keys if key in by_key]
        if not found:
            return _FULL
        found.sort(key=lambda s: -LEVELS.index(s.level))  # stable: the more general switch first
        strictest = found[0]
        return Restriction(strictest.level, strictest.canned_text, tuple(found))

    def excluded_deployments(self) -> frozenset[str]:
        """Deployments a switch takes out of routing (for `Constraints.excluded`)."""
        return self._state.excluded

    def disabled_tools(self) -> frozenset[str]:
        """Tools a switch disables."""
        return self._state.disabled

    def switch_on(self, scope: str, value: str) -> Switch | None:
        """The switch set on a scope and value, if any (from memory)."""
        return self._state.by_key.get((scope, value))

    # --- changes ---------------------------------------------------------------------------------

    def reload(self) -> None:
        """Read the switches set now (after this process's flips, and on notice of another's)."""
        # One reload at a time: two overlapping reloads (the watcher's and a flip's) could otherwise
        # finish out of order and leave the older read in force.
        with self._lock, self.db.read() as conn:
            self._state = _State.of(_switch(row) for row in rows.switches(conn))

    def list(self) -> list[Switch]:
        """Every switch set now, from the database (by scope and value)."""
        with self.db.read() as conn:
            return [_switch(row) for row in rows.switches(conn)]

    def flip(self, spec: SwitchIn, actor: str) -> Switch:
        """Set a scope's level (`full` clears it), in the ledger in the same transaction."""
        if spec.level not in LEVELS:
            raise InvalidInputError(f"level: {spec.level!r} is not one of {', '.join(LEVELS)}", field="level")
        value = normalise_value(spec.scope, spec.value)
        canned = _canned_text(spec)
        switch = Switch(
            id=switch_id(spec.scope, value),
            scope=cast(Scope, spec.scope),
            value=value,
            level=cast(Level, spec.level),
            canned_text=canned,
            reason=spec.reason.strip(),
            actor=actor,
            set_at=datetime.now(UTC),
        )
        self._write(switch)
        return switch

    def clear(self, scope: str, value: str | None, reason: str, actor: str) -> Switch:
        """Return a scope to `full`; NotFoundError when no switch is set there."""
        try:
            spec = SwitchIn(scope=scope, value=value, level="full", reason=reason)
        except ValidationError as error:
            raise InvalidInputError(f"invalid switch or reason: {error.errors()[0]['msg']}") from None
        return self.flip(spec, actor)

    def _write(self, switch: Switch) -> None:
        with self.db.write() as conn:
            previous = rows.switch(conn, switch.scope, switch.value)
            if switch.level == "full":
                if not rows.delete_switch(conn, switch.scope, switch.value):
                    raise NotFoundError(f"no kill switch is set on {switch.id}", switch=switch.id)
            else:
                rows.put_switch(conn, _values(switch))
            before = "full" if previous is None else str(previous["level"])
            self.ledger.enqueue(conn, _event(switch, before))
            bump(conn, TOPIC)
            notify(conn, TOPIC)
        self.reload()


def _canned_text(spec: SwitchIn) -> str | None:
    text = (spec.canned_text or "").strip()
    if spec.level == "canned_reply" and not text:
        raise InvalidInputError("canned_text: the canned_reply level needs the text to answer with")
    if spec.level != "canned_reply" and text:
        raise InvalidInputError("canned_text: only the canned_reply level answers with a text")
    return text or None


def _values(switch: Switch) -> dict[str, object]:
    return {
        "scope": switch.scope,
        "value": switch.value,
        "level": switch.level,
        "canned_text": switch.canned_text,
        "reason": switch.reason,
        "actor_id": switch.actor,
        "set_at": switch.set_at,
    }


def _event(switch: Switch, before: str) -> Event:
    data = {
        "scope": switch.scope,
        "value": switch.value,
        "level": switch.level,
        "previous_level": before,
        "reason": switch.reason,
        "canned_text": switch.canned_text,
    }
    return Event("kill_switch.flipped", f"kill_switch:{switch.id}", switch.actor, data, switch.set_at)


def _switch(row: RowMapping) -> Switch:
    return Switch(
        id=switch_id(row["scope"], row["value"]),
        scope=row["scope"],
        value=row["value"],
        level=row["level"],
        canned_text=row["canned_text"],
        reason=row["reason"],
        actor=row["actor_id"],
        set_at=row["set_at"],
    )
