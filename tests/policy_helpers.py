"""Building engines from the built-in pack files, and contexts, for the policy tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from aifactory.policy import RequestContext
from aifactory.policy.builtin import BUILTIN_PACKS, PACK_DIR
from aifactory.policy.engine import PolicyEngine
from aifactory.policy.pack_files import load_pack_file, parse_pack
from aifactory.policy.rules import ActivePack

DEFAULT_AT = datetime(2027, 2, 1, 12, tzinfo=UTC)


def builtin_packs() -> list[ActivePack]:
    """Every built-in pack as version 1."""
    return [ActivePack(n, 1, load_pack_file(PACK_DIR / f"{n}.yaml")[0]) for n in BUILTIN_PACKS]


def pack(text: str, version: int = 1) -> ActivePack:
    """A pack from YAML text."""
    spec, _ = parse_pack(text)
    return ActivePack(spec.name, version, spec)


def engine(*packs: ActivePack, tracks: dict[str, str] | None = None) -> PolicyEngine:
    """An engine over `packs` (default: the built-in packs)."""
    return PolicyEngine(list(packs) or builtin_packs(), tracks=tracks)


def context(at: Any = None, **fields: Any) -> RequestContext:
    """A context from plain values (lists for sets, a date or datetime for `at`)."""
    when = at or DEFAULT_AT
    if isinstance(when, str):
        when = date.fromisoformat(when)
    if not isinstance(when, datetime):
        when = datetime(when.year, when.month, when.day, 12, tzinfo=UTC)
    fields["data_categories"] = frozenset(fields.get("data_categories", ()))
    fields["roles"] = tuple(fields.get("roles", ()))
    return RequestContext(principal=fields.pop("principal", "prn_test"), at=when, **fields)


GOLDEN = Path(__file__).parent / "policy_golden"
