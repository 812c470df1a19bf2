"""Replaying recorded decisions: what an auditor runs to check that every policy decision in the
ledger is the one its pack versions give (`aifactory ledger verify-decisions`).

For every run entry that carries a decision, the request context is rebuilt from the entry, exactly
the pack versions it names are read (through a lookup: the catalog in process, or the server's
asset API) and their content checked against the content hash the ledger recorded when each version
was pushed, so a pack rewritten in the database is caught. The decision is then replayed with a
`PolicyEngine` over those versions and its digest compared with the recorded one.

It needs only the ledger's entries, in order, and the lookup; nothing of an edge.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from aifactory.catalog import content_hash
from aifactory.catalog.records import AssetVersion
from aifactory.policy.active import PACK_KIND
from aifactory.policy.decision import Decision, RequestContext
from aifactory.policy.engine import PolicyEngine
from aifactory.policy.packs import PackSpec
from aifactory.policy.rules import ActivePack

__all__ = [
    "DecisionAuditor",
    "DecisionCheck",
    "DecisionReport",
    "PackLookup",
    "context_of",
    "verify_decisions",
]

PackLookup = Callable[[str, int], Awaitable[AssetVersion | None]]
"""The stored version `number` of the policy pack named `name` (None when there is none)."""

Status = Literal["ok", "mismatch", "unverifiable"]

_NEEDED = ("decision_digest", "decision_context", "policy_packs")


def context_of(recorded: Mapping[str, Any]) -> RequestContext:
    """The request context a run's ledger entry recorded (`RequestContext.as_json`), rebuilt."""
    return RequestContext(
        principal=str(recorded["principal"]),
        at=datetime.fromisoformat(recorded["at"]),
        roles=tuple(recorded.get("roles") or ()),
        team=recorded.get("team"),
        use_case=recorded.get("use_case"),
        jurisdiction=recorded.get("jurisdiction"),
        surface=recorded.get("surface"),
        risk_class=recorded.get("risk_class"),
        data_categories=frozenset(recorded.get("data_categories") or ()),
        purpose=recorded.get("purpose"),
        attributes=dict(recorded.get("attributes") or {}),
    )


@dataclass(frozen=True)
class DecisionCheck:
    """The verdict on one recorded decision: ok, mismatch (what differs) or unverifiable (why)."""

    index: int
    run: str
    decision_id: str
    outcome: str
    status: Status
    differences: tuple[str, ...] = ()
    why: str = ""
    replayed: Decision | None = None

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form; a mismatch carries the replayed outcome, obligations, reasons and packs."""
        out: dict[str, Any] = {
            "index": self.index,
            "run": self.run,
            "decision_id": self.decision_id,
            "outcome": self.outcome,
            "status": self.status,
            "differences": list(self.differences),
            "why": self.why,
        }
        if self.status == "mismatch" and self.replayed is not None:
            replayed = self.replayed.as_json()
            out["replayed"] = {k: replayed[k] for k in ("outcome", "obligations", "reasons", "packs")}
        return out


@dataclass
class DecisionReport:
    """Every recorded decision's verdict, and how many run entries carried none."""

    checks: list[DecisionCheck] = field(default_factory=list)
    entries: int = 0
    runs_without_decision: int = 0

    def count(self, status: Status) -> int:
        """How many decisions got `status`."""
        return sum(1 for c in self.checks if c.status == status)

    @property
    def is_verified(self) -> bool:
        """True when every recorded decision replayed to its digest."""
        return all(c.status == "ok" for c in self.checks)

    def summary(self) -> dict[str, int]:
        """Counts: entries read, decisions, ok, mismatch, unverifiable, runs without a decision."""
        return {
            "entries": self.entries,
            "decisions": len(self.checks),
            "ok": self.count("ok"),
            "mismatch": self.count("mismatch"),
            "unverifiable": self.count("unverifiable"),
            "runs_without_decision": self.runs_without_decision,
        }

    def as_json(self) -> dict[str, Any]:
        """JSON-ready form: `ok`, the summary and every check."""
        checks = [c.as_json() for c in self.checks]
        return {"ok": self.is_verified, "summary": self.summary(), "checks": checks}


class DecisionAuditor:
    """Reads ledger events in order and checks each recorded decision once the ledger has told it
    about the pack versions it names (a run whose packs come later is checked at `finish`)."""

    def __init__(self, lookup: PackLookup, *, tracks: Mapping[str, str] | None = None) -> None:
        self.lookup = lookup
        self.tracks = dict(tracks or {})
        self.report = DecisionReport()
        self._assets: dict[str, set[str]] = {}
        """Pack name -> the ids of the `policy-pack` assets of that name (from `asset.created`)."""
        self._hashes: dict[tuple[str, int], str] = {}
        """(asset id, version) -> the content hash `asset.version_created` recorded."""
        self._packs: dict[str, ActivePack | str] = {}
        self._engines: dict[tuple[str, ...], PolicyEngine] = {}
        self._pending: list[tuple[int, Mapping[str, Any]]] = []

    async def observe(self, index: int, event: Mapping[str, Any]) -> None:
        """Take the next ledger event (asset events are remembered, decisions checked)."""
        self.report.entries += 1
        kind, data = event.get("type"), event.get("data") or {}
        subject = str(event.get("subject", ""))
        if kind == "asset.created" and data.get("kind") == PACK_KIND:
            self._assets.setdefault(str(data.get("name")), set()).add(subject.removeprefix("asset:"))
        elif kind == "asset.version_created":
            self._hashes[(subject.removeprefix("asset:"), int(data["version"]))] = str(data["content_hash"])
        elif isinstance(kind, str) and kind.startswith("run."):
            if data.get("decision_id") is None:
                self.report.runs_without_decision += 1
            elif self._is_known(data.get("policy_packs")):
                self.report.checks.append(await self.check(index, event))
            else:
                self._pending.append((index, event))

    async def finish(self) -> DecisionReport:
        """Check the decisions still waiting for their packs; the report, in ledger order."""
        for index, event in self._pending:
            self.report.checks.append(await self.check(index, event))
        self._pending.clear()
        self.report.checks.sort(key=lambda c: c.index)
        return self.report

    async def check(self, index: int, event: Mapping[str, Any]) -> DecisionCheck:
        """The verdict on the decision of one run entry."""
        data = event["data"]
        verdict = _Verdict(index, str(event.get("subject", "")).removeprefix("run:"), data)
        missing = [name for name in _NEEDED if name not in data]
        if missing:
            return verdict.unverifiable(f"the entry does not carry {', '.join(missing)}")
        try:
            context = context_of(data["decision_context"])
        except (KeyError, TypeError, ValueError) as exc:
            return verdict.unverifiable(f"the recorded context cannot be read: {exc}")
        packs = []
        for ref in data["policy_packs"]:
            pack = await self._pack(str(ref))
            if isinstance(pack, str):
                return verdict.unverifiable(pack)
            packs.append(pack)
        replayed = self._engine(packs).decide(context)
        if replayed.digest() == data["decision_digest"]:
            return verdict.ok()
        return verdict.mismatch(replayed)

    def _is_known(self, refs: Any) -> bool:
        """Whether the ledger has recorded every pack version `refs` names (so far)."""
        if not isinstance(refs, list):
            return True  # malformed: check() says so at once
        for ref in refs:
            name, _, number = str(ref).rpartition("@")
            ids = self._assets.get(name, ())
            if not number.isdigit() or not any((i, int(number)) in self._hashes for i in ids):
                return False
        return True

    async def _pack(self, ref: str) -> ActivePack | str:
        """The pack version `ref` names, its content checked against the ledger; or why not."""
        if ref not in self._packs:
            self._packs[ref] = await self._load(ref)
        return self._packs[ref]

    async def _load(self, ref: str) -> ActivePack | str:
        name, _, number = ref.rpartition("@")
        if not name or not number.isdigit():
            return f"{ref!r} does not name a pack version (name@version)"
        ids = self._assets.get(name)
        if not ids:
            return f"the ledger records no policy pack named {name!r}"
        stored = await self.lookup(name, int(number))
        if stored is None:
            return f"pack version {ref} is missing from the catalog"
        if stored.asset_id not in ids:
            return f"the catalog's {PACK_KIND}:{name} ({stored.asset_id}) is not an asset the ledger records"
        recorded = self._hashes.get((stored.asset_id, int(number)))
        if recorded is None:
            return f"the ledger records no version {number} of {PACK_KIND}:{name}"
        actual = content_hash(stored.content)
        if actual != recorded:
            return (
                f"the content of {ref} is not what was pushed: its hash is {actual}, the ledger "
                f"recorded {recorded} (the stored version was changed)"
            )
        try:
            return ActivePack(name, int(number), PackSpec.model_validate(stored.content))
        except ValidationError as exc:
            return f"{ref} is not a valid pack any more: {exc.errors()[0]['msg']}"

    def _engine(self, packs: list[ActivePack]) -> PolicyEngine:
        key = tuple(sorted(p.ref for p in packs))
        if key not in self._engines:
            self._engines[key] = PolicyEngine(packs, tracks=self.tracks)
        return self._engines[key]


@dataclass(frozen=True)
class _Verdict:
    """Makes the checks of one run entry."""

    index: int
    run: str
    data: Mapping[str, Any]

    def _make(self, status: Status, **extra: Any) -> DecisionCheck:
        decision_id, outcome = str(self.data.get("decision_id")), str(self.data.get("decision_outcome"))
        return DecisionCheck(self.index, self.run, decision_id, outcome, status, **extra)

    def ok(self) -> DecisionCheck:
        return self._make("ok")

    def unverifiable(self, why: str) -> DecisionCheck:
        return self._make("unverifiable", why=why)

    def mismatch(self, replayed: Decision) -> DecisionCheck:
        return self._make("mismatch", differences=_differences(self.data, replayed), replayed=replayed)


def _differences(data: Mapping[str, Any], replayed: Decision) -> tuple[str, ...]:
    """What differs between a recorded decision and its replay, as far as the entry can tell."""
    found = []
    if data.get("decision_outcome") != replayed.outcome:
        found.append(f"outcome: recorded {data.get('decision_outcome')}, replayed {replayed.outcome}")
    recorded_parts = data.get("decision_parts")
    if isinstance(recorded_parts, Mapping):
        for part, digest in replayed.part_digests().items():
            if recorded_parts.get(part) != digest:
                found.append(f"{part}: the replayed {part} do not match the recorded digest")
    if list(data.get("policy_packs") or ()) != list(replayed.packs):
        found.append(f"packs: recorded {data.get('policy_packs')}, replayed {list(replayed.packs)}")
    if data.get("decision_context") != replayed.context.as_json():
        found.append("context: the recorded context does not read back as recorded")
    if not isinstance(recorded_parts, Mapping) and len(found) == 0:
        found.append("obligations or reasons (the entry has no per-part digests to tell which)")
    return tuple(found)


async def verify_decisions(
    events: AsyncIterable[tuple[int, Mapping[str, Any]]],
    lookup: PackLookup,
    *,
    tracks: Mapping[str, str] | None = None,
) -> DecisionReport:
    """Replay every decision recorded in `events` (the ledger's, in order, with their indices)."""
    auditor = DecisionAuditor(lookup, tracks=tracks)
    async for index, event in events:
        await auditor.observe(index, event)
    return await auditor.finish()
