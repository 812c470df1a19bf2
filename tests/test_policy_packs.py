"""The pack format: invalid packs are refused with the YAML line and the reason; the built-in
packs are valid and lint clean; lint finds conflicting, shadowed and unreachable rules."""

from __future__ import annotations

import pytest

from aifactory.errors import InvalidInputError
from aifactory.policy.lint import lint
from aifactory.policy.pack_files import parse_pack
from policy_helpers import builtin_packs, pack

HEAD = "name: t\ntitle: T\nsources: [{title: test}]\nrules:\n"


def problems(rules: str) -> list[tuple[int, str]]:
    with pytest.raises(InvalidInputError) as caught:
        parse_pack(HEAD + rules, "t.yaml")
    assert "t.yaml line" in caught.value.detail
    return [(p["line"], p["message"]) for p in caught.value.extra["problems"]]


def rule(body: str, rule_id: str = "r") -> str:
    lines = [f"  - id: {rule_id}", "    description: d", "    source: Art. 1"]
    return "\n".join(lines + [f"    {line}" for line in body.strip().splitlines()]) + "\n"


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        ("disclosure: hi\nbogus: 1", 9, "Extra inputs are not permitted"),
        ("when: purpose ==\ndisclosure: hi", 8, "CEL does not compile"),
        ("when: tenant == 'x'\ndisclosure: hi", 8, "unknown variable(s) tenant"),
        ("applies_from: 2026-13-01\ndisclosure: hi", 8, "valid date"),
        ("redact: {EMAIL: mask}", 8, "unknown PII entity type 'EMAIL'"),
        ("redact: {EMAIL_ADDRESS: scramble}", 8, "'remove', 'mask', 'hash' or 'pseudonymize'"),
        (
            "scope: {risk_classes: [severe]}\ndisclosure: hi",
            8,
            "'prohibited', 'high', 'limited' or 'minimal'",
        ),
        ("scope: {jurisdictions: [Germany]}\ndisclosure: hi", 8, "is not a jurisdiction"),
        ("retention:\n  min_days: 10\n  max_days: 5", 8, "min_days 10 is more than max_days 5"),
        ("deny: never\nhuman_review: true", 5, "a deny rule has no other effect"),
        ("applies_from: {enacted: 2026-01-01}\ndisclosure: hi", 1, "needs `default_track`"),
        ("content_rules: [{id: slow, kind: regex, pattern: '(a+)+b'}]", 8, "backtrack catastrophically"),
    ],
)
def test_invalid_packs_are_refused_with_line_and_reason(body: str, line: int, reason: str) -> None:
    found = problems(rule(body))
    assert any(at == line and reason in message for at, message in found), found


def test_a_rule_without_effect_and_duplicate_ids_are_refused() -> None:
    assert any("has no effect" in m for _, m in problems(rule("when: purpose == 'x'")))
    twice = rule("disclosure: a") + rule("disclosure: b")
    assert any("appears twice" in m for _, m in problems(twice))


def test_the_builtin_packs_are_valid_and_lint_clean() -> None:
    findings = lint([(p.name, p) for p in builtin_packs()])
    assert [f for f in findings if f.severity == "error"] == []
    assert {f.rule for f in findings} == {"colorado-sb24-205:high-risk-notice"}  # retired: a note


def lint_rules(*rules: str, scope: str = "") -> set[tuple[str, str]]:
    text = HEAD.replace("rules:\n", f"{scope}rules:\n") + "".join(rules)
    return {(f.kind, f.rule) for f in lint([("t", pack(text))])}


def test_lint_finds_conflicts() -> None:
    found = lint_rules(
        rule("retention: {min_days: 400}", "keep"),
        rule("retention: {max_days: 30}\nscope: {surfaces: [chat]}", "purge"),
        rule("allowed_regions: [eu-west-1]", "eu"),
        rule("allowed_regions: [us-east-1]\nwhen: purpose == 'x'", "us"),
        rule("redact: {EMAIL_ADDRESS: mask}", "mask"),
        rule("redact: {EMAIL_ADDRESS: hash}\nscope: {surfaces: [chat]}", "hash"),
    )
    assert {
        ("conflict", "t:keep / t:purge"),
        ("conflict", "t:eu / t:us"),
        ("conflict", "t:mask / t:hash"),
    } <= found


def test_lint_finds_shadowed_rules() -> None:
    found = lint_rules(
        rule("human_review: true\nrequired_log_fields: [a, b]", "broad"),
        rule("human_review: true\nscope: {surfaces: [chat]}", "narrow"),
        rule("deny: never in batch\nscope: {surfaces: [batch]}", "no-batch"),
        rule("max_tokens: 10\nscope: {surfaces: [batch]}", "batch-cap"),
    )
    assert ("shadowed", "t:narrow") in found
    assert ("shadowed", "t:batch-cap") in found
    assert ("shadowed", "t:broad") not in found


def test_lint_finds_unreachable_rules() -> None:
    found = lint_rules(
        rule("disclosure: a\nscope: {jurisdictions: [US]}", "elsewhere"),
        rule("disclosure: b\nwhen: surface == 'api'", "never-api"),
        rule("disclosure: c\napplies_from: 2027-01-01\nuntil: 2026-01-01", "backwards"),
        rule("disclosure: d\nwhen: surface == 'chat'", "fine"),
        scope="scope: {jurisdictions: [EU], surfaces: [chat, voice]}\n",
    )
    assert {
        ("unreachable", "t:elsewhere"),
        ("unreachable", "t:never-api"),
        ("unreachable", "t:backwards"),
    } <= found
    assert ("unreachable", "t:fine") not in found
