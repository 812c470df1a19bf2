"""Golden decision tables: for each built-in pack, contexts and the decisions they must get (the
outcome, the rules that contribute or not, key obligations), run against the real engine."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from policy_helpers import GOLDEN, builtin_packs, context, engine

CASES = [
    pytest.param(case, id=f"{path.stem}: {case['name']}")
    for path in sorted(GOLDEN.glob("*.yaml"))
    for case in yaml.safe_load(path.read_text(encoding="utf-8"))
]


@pytest.mark.parametrize("case", CASES)
def test_golden_decision(case: dict[str, Any]) -> None:
    explanation = engine(tracks=case.get("tracks")).explain(context(case.get("at"), **case["context"]))
    decision = explanation.decision
    applied = {r.rule for r in decision.reasons}
    if "outcome" in case:
        assert decision.outcome == case["outcome"], [r.as_json() for r in decision.reasons]
    assert set(case.get("rules", ())) <= applied, applied
    assert not set(case.get("not_rules", ())) & applied, applied
    assert set(case.get("not_applied", ())) <= {n.rule for n in explanation.not_applied}
    obligations = decision.obligations.as_json()
    for name, expected in case.get("obligations", {}).items():
        if name.endswith("_include"):
            assert set(expected) <= set(obligations[name.removesuffix("_include")] or ()), name
        elif name.endswith("_exclude"):
            assert not set(expected) & set(obligations[name.removesuffix("_exclude")] or ()), name
        elif isinstance(expected, dict):
            assert expected.items() <= obligations[name].items(), name
        else:
            assert obligations[name] == expected, name


def test_every_active_builtin_pack_is_in_a_golden_table() -> None:
    expected = {rule for param in CASES for rule in param.values[0].get("rules", ())}  # type: ignore[union-attr]
    for pack in builtin_packs():
        if pack.spec.status == "active":
            assert expected & {r.id for r in pack.spec.rules}, f"no golden case for {pack.name}"


def test_one_request_three_subjects_three_decisions() -> None:
    """The same chat request from an EU, a Colorado and a California subject (at 2027-02-01)."""
    policy = engine()
    request = {"surface": "chat", "purpose": "employment", "data_categories": ["personal_data"]}
    eu = policy.explain(context(jurisdiction="DE", **request))
    colorado = policy.explain(context(jurisdiction="US-CO", **request))
    california = policy.explain(context(jurisdiction="US-CA", **request))

    assert eu.decision.packs == ("baseline@1", "eu-ai-act@1", "gdpr-residency@1")
    assert "EU" in (eu.decision.obligations.allowed_regions or ())
    assert eu.decision.obligations.human_review  # Annex III employment, enacted track
    assert eu.decision.obligations.retention_min_days == 183
    assert "You are interacting with an AI system." in eu.decision.obligations.disclosures

    assert colorado.decision.packs == ("baseline@1", "colorado-sb26-189@1")
    assert colorado.decision.obligations.allowed_regions is None
    assert colorado.decision.obligations.retention_min_days == 1095
    assert {"consumer-notice", "adverse-outcome-explanation"} <= {r.rule for r in colorado.decision.reasons}

    assert california.decision.packs == ("baseline@1", "california-sb53@1")
    assert {r.pack for r in california.decision.reasons} == {"baseline"}
    assert not california.decision.obligations.human_review
    why = {n.rule: n.why for n in california.not_applied if n.pack == "california-sb53@1"}
    assert why["transparency-report"].startswith("condition is false")

    digests = {eu.decision.digest(), colorado.decision.digest(), california.decision.digest()}
    assert len(digests) == 3
    for explanation in (eu, colorado, california):
        assert all(r.source for r in explanation.decision.reasons), "every reason cites its article"
