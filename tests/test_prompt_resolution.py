"""Resolution from the snapshot, without a server: selectors, the sticky split, the ramp, retirement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aifactory.catalog.records import Canary, CanaryIn, RampStep
from aifactory.errors import GoneError, InvalidInputError, NotFoundError
from aifactory.prompts.resolution import Selector, resolve
from aifactory.prompts.snapshot import LabelState, PromptEntry, PromptSnapshot, PromptVersion
from aifactory.prompts.spec import PromptSpec

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _snapshot(canary: Canary | None = None, mark: str | None = None) -> PromptSnapshot:
    versions = {
        n: PromptVersion(n, f"{n:064x}", PromptSpec.model_validate({"text": f"v{n}"}), "alice")
        for n in (1, 2, 3)
    }
    versions[3] = PromptVersion(3, f"{3:064x}", versions[3].spec, "alice", mark=mark)
    labels = {"production": LabelState(1, canary=canary), "old": LabelState(3)}
    entry = PromptEntry(
        "ast_1",
        "greet",
        "",
        "alice",
        False,
        versions,
        {v.content_hash: n for n, v in versions.items()},
        labels,
    )
    return PromptSnapshot({"greet": entry})


def _resolve(snapshot: PromptSnapshot, selector: Selector, subject: str = "s") -> int:
    return resolve(snapshot, "greet", selector, subject=subject, default_label="production", now=NOW).version


def test_selectors_name_one_version() -> None:
    snapshot = _snapshot()
    assert _resolve(snapshot, Selector()) == 1
    assert _resolve(snapshot, Selector(label="old")) == 3
    assert _resolve(snapshot, Selector(version=2)) == 2
    assert _resolve(snapshot, Selector(digest=f"sha256:{2:064x}")) == 2
    with pytest.raises(InvalidInputError, match="at most one"):
        Selector(label="old", version=2)
    with pytest.raises(NotFoundError, match="has no label 'staging' \\(its labels: old, production\\)"):
        _resolve(snapshot, Selector(label="staging"))
    with pytest.raises(NotFoundError, match="no version 9 \\(latest: 3\\)"):
        _resolve(snapshot, Selector(version=9))
    with pytest.raises(NotFoundError, match="no prompt 'other'"):
        resolve(snapshot, "other", Selector(), subject="s", default_label="production", now=NOW)


def test_a_retired_version_is_gone_unless_pinned_by_hash() -> None:
    snapshot = _snapshot(mark="retired")
    with pytest.raises(GoneError, match=f"greet@sha256:{3:064x}"):
        _resolve(snapshot, Selector(version=3))
    with pytest.raises(GoneError):
        _resolve(snapshot, Selector(label="old"))
    assert _resolve(snapshot, Selector(digest=f"{3:064x}")) == 3


def test_the_canary_serves_its_share_and_sticks() -> None:
    canary = Canary(version=2, percent=10, ramp=[], started_by="alice", started_at=NOW)
    snapshot = _snapshot(canary)
    served = [_resolve(snapshot, Selector(), f"subject-{n}") for n in range(5000)]
    assert 400 <= served.count(2) <= 600  # 10% of 5000: 500 +- about 4.7 standard deviations
    assert [_resolve(snapshot, Selector(), f"subject-{n}") for n in range(500)] == served[:500]


def test_the_ramp_raises_the_share_on_schedule() -> None:
    spec = CanaryIn(
        version=2,
        percent=5,
        ramp=[RampStep(after_minutes=60, percent=25), RampStep(after_minutes=120, percent=50)],
    )
    canary = Canary(version=2, percent=spec.percent, ramp=spec.ramp, started_by="alice", started_at=NOW)
    assert canary.percent_at(NOW + timedelta(minutes=59)) == 5
    assert canary.percent_at(NOW + timedelta(minutes=60)) == 25
    assert canary.percent_at(NOW + timedelta(hours=5)) == 50
