"""The `eval-record` gate: a version moves only with a passing eval record that verifies now."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import RowMapping

from aifactory.catalog.gates import MoveContext
from aifactory.evals.registry import verification_problem
from aifactory.store import eval_rows

__all__ = ["EvalRecordGate"]


class EvalRecordGate:
    """A signed eval record of this exact content, verdict `pass`, verifying with an unrevoked signer.

    The newest record of the version that verifies decides; records that do not verify (tampered,
    unknown or revoked signer) are named, since each is something to look into.
    """

    name = "eval-record"

    def unmet(self, ctx: MoveContext) -> list[str]:
        """Say what is missing: a record, a passing verdict, or a signature that verifies."""
        version = ctx.version
        found = eval_rows.records_of_version(ctx.conn, ctx.asset.id, version.content_hash)
        if not found:
            return [
                f"eval-record: no eval record for version {version.number} (content sha256 "
                f"{version.content_hash[:16]}...); run the evaluation and submit its signed record"
            ]
        problems: list[str] = []
        for row in found:
            problem = _problem(ctx, row)
            if problem is not None:
                problems.append(f"eval-record: record {row['id']} for version {version.number}: {problem}")
                continue
            verdict = _record(row)["verdict"]
            if verdict == "pass":
                return []
            return [
                *problems,
                f"eval-record: the latest record for version {version.number} ({row['id']}) has verdict "
                f"{verdict}; fix the version and submit a passing record",
            ]
        return problems


def _record(row: RowMapping) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(row["record"])
    return value


def _problem(ctx: MoveContext, row: RowMapping) -> str | None:
    """Why a stored record does not count for this version: checked on the signed JSON itself."""
    try:
        record = _record(row)
    except ValueError:
        return "the stored record is not JSON"
    refs = {ctx.asset.id, f"{ctx.asset.kind}:{ctx.asset.name}"}
    if record.get("asset") not in refs:
        return f"the record names asset {record.get('asset')!r}, not this one"
    if record.get("content_hash") != ctx.version.content_hash:
        return (
            f"the record names content sha256 {str(record.get('content_hash'))[:16]}..., not this version's"
        )
    return verification_problem(ctx.conn, record)
