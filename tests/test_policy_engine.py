"""The decision engine: determinism (replay gives the same digest), caches that never change an
answer, date tracks, scope hierarchy, conditions that cannot be evaluated, and no packs at all."""

from __future__ import annotations

from datetime import UTC, datetime

from aifactory.policy.engine import PolicyEngine
from aifactory.policy.jurisdictions import EU_MEMBERS, covers
from policy_helpers import context, engine, pack

DATED = """
name: dated
title: Dated
sources: [{title: test}]
default_track: enacted
rules:
  - id: later
    description: applies from a date that depends on the track
    source: Art. 1
    applies_from: {enacted: 2026-08-02, omnibus: 2027-12-02}
    until: 2030-01-01
    human_review: true
  - id: note
    description: reads an attribute
    source: Art. 2
    when: attributes.tier == "gold"
    max_tokens: 100
"""


def test_no_active_pack_allows_with_nothing() -> None:
    decision = PolicyEngine([]).decide(context(jurisdiction="DE", surface="chat"))
    assert decision.outcome == "allow"
    assert decision.reasons == ()
    assert decision.packs == ()
    assert decision.id.startswith("dec_")


def test_replaying_a_context_gives_the_same_digest_and_a_new_id() -> None:
    ctx = context(jurisdiction="DE", surface="chat", purpose="employment", data_categories=["personal_data"])
    first, second = engine().decide(ctx), engine().decide(ctx)  # two engines: no shared cache
    cached = engine()
    third, fourth = cached.decide(ctx), cached.decide(ctx)
    assert len({first.digest(), second.digest(), third.digest(), fourth.digest()}) == 1
    assert len({first.id, second.id, third.id, fourth.id}) == 4


def test_cached_decisions_follow_the_day_and_the_variables_read() -> None:
    policy = engine(pack(DATED))
    before = policy.decide(context("2026-08-01", attributes={"tier": "gold"}))
    after = policy.decide(context("2026-08-02", attributes={"tier": "gold"}))
    silver = policy.decide(context("2026-08-02", attributes={"tier": "silver"}))
    ended = policy.decide(context("2030-01-02", attributes={"tier": "silver"}))
    assert not before.obligations.human_review
    assert before.obligations.max_tokens == 100
    assert after.obligations.human_review
    assert silver.obligations.max_tokens is None
    assert not ended.obligations.human_review
    assert policy.decide(context("2026-08-01", attributes={"tier": "gold"})).digest() == before.digest()


def test_the_date_track_comes_from_settings_else_the_pack_default() -> None:
    at = context("2027-01-01")
    assert engine(pack(DATED)).decide(at).obligations.human_review
    assert not engine(pack(DATED), tracks={"dated": "omnibus"}).decide(at).obligations.human_review
    explanation = engine(pack(DATED), tracks={"dated": "omnibus"}).explain(at)
    why = {n.rule: n.why for n in explanation.not_applied}
    assert why["later"] == "not yet in force: applies from 2027-12-02 (track omnibus)"


def test_a_condition_that_cannot_be_evaluated_does_not_hold_and_says_why() -> None:
    explanation = engine(pack(DATED)).explain(context("2026-01-01"))  # no attribute `tier`
    assert explanation.decision.obligations.max_tokens is None
    why = {n.rule: n.why for n in explanation.not_applied}
    assert why["note"].startswith("condition could not be evaluated")


def test_conditions_reading_now_are_never_decision_cached() -> None:
    text = DATED.replace('attributes.tier == "gold"', 'now > timestamp("2026-06-01T12:00:00Z")')
    policy = engine(pack(text))
    morning = policy.decide(context(datetime(2026, 6, 1, 11, tzinfo=UTC)))
    noon = policy.decide(context(datetime(2026, 6, 1, 13, tzinfo=UTC)))
    assert morning.obligations.max_tokens is None
    assert noon.obligations.max_tokens == 100


def test_jurisdictions_are_hierarchical() -> None:
    assert all(covers("EU", code) for code in EU_MEMBERS)
    assert len(EU_MEMBERS) == 27
    assert covers("EU", "DE-BY")
    assert covers("US", "US-CO")
    assert covers("US-CO", "US-CO")
    assert not covers("EU", "NO")
    assert covers("EEA", "NO")
    assert not covers("US-CO", "US")
    assert not covers("US", "USA")
    assert not covers("EU", "CH")


def test_deny_overrides_and_names_its_article() -> None:
    decision = engine().decide(
        context(jurisdiction="AT", surface="api", purpose="untargeted_facial_scraping")
    )
    assert decision.outcome == "deny"
    assert not decision.allowed
    (denial,) = decision.denials
    assert (denial.pack, denial.rule, denial.source) == (
        "eu-ai-act",
        "art5-1e-facial-scraping",
        "AI Act Art. 5(1)(e)",
    )
    assert denial.as_json()["pack"] == "eu-ai-act@1"
