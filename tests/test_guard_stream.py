"""The streaming output guard: text held back until safe, whatever the chunking. No violating span is
ever released, even when it straddles chunks; text with nothing to find comes through unchanged and
is released once it is older than the window; tool calls pass untouched."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aifactory.errors import GuardrailViolationError
from aifactory.gateway.types import Delta, StreamEnd, StreamEvent, Usage
from aifactory.policy.decision import ContentRule, Obligations
from aifactory.policy.guards import Findings, Holdback, OutputGuard, TextGuard, compile_rules
from aifactory.policy.pii import PiiKeyring, default_detector

WINDOW = 16
RULES = (
    ContentRule("curse", "words", ("darn", "heck no", "Straße"), "redact"),
    ContentRule("digits", "regex", r"\d{6,}", "redact"),
    ContentRule("secret", "regex", r"sk-[a-z0-9]{8}", "redact"),
    ContentRule("stop", "words", ("forbidden",), "block"),
)
REDACTING = Obligations(content_rules=RULES[:3])
BLOCKING = Obligations(content_rules=RULES)
CURSE = re.compile(r"(?<!\w)(?:darn|heck no|straße)(?!\w)", re.IGNORECASE)
ALPHABET = st.sampled_from(
    ["darn", "heck", " no", "Straße", "STRASSE", "sk-", "abc12345", "7", "x", " ", "é", "😀"]
)


def holdback(obligations: Obligations, size: int = WINDOW) -> Holdback:
    text = TextGuard(compile_rules(obligations.content_rules, "output"), None, "output")
    return Holdback(text, Findings(), size)


def pieces(text: str, cuts: Iterable[int]) -> list[str]:
    """`text` cut at the given offsets."""
    bounds = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def run(guard: Holdback, chunks: list[str]) -> str:
    return "".join(guard.feed(c) for c in chunks) + guard.finish()


def run_into(guard: Holdback, chunks: list[str], released: list[str]) -> None:
    """Feed every chunk and finish, keeping what was released before any error."""
    for chunk in chunks:
        released.append(guard.feed(chunk))
    released.append(guard.finish())


def test_a_word_split_one_character_a_chunk_is_redacted() -> None:
    text = "well darn it, heck no! and 1234567 too, sk-abcd1234."
    out = run(holdback(REDACTING), list(text))
    assert out == "well [REDACTED:curse] it, [REDACTED:curse]! and [REDACTED:digits] too, [REDACTED:secret]."


def test_words_are_whole_case_insensitive_and_unicode() -> None:
    out = run(holdback(REDACTING), list("darnit DARN undarn STRASSE straße Straßen"))
    assert out == "darnit [REDACTED:curse] undarn STRASSE [REDACTED:curse] Straßen"


def test_an_unbounded_match_longer_than_the_window_is_redacted_in_one_marker() -> None:
    digits = "9" * 200
    out = run(holdback(REDACTING), list(f"a {digits} b"))
    assert out == "a [REDACTED:digits] b"


def test_the_window_grows_to_the_longest_word_or_bounded_regex() -> None:
    phrase = "a very long forbidden phrase that is much longer than the window"
    rules = (
        ContentRule("long", "words", (phrase,), "block"),
        ContentRule("key", "regex", r"key-[a-f0-9]{40}", "redact"),
    )
    guard = holdback(Obligations(content_rules=rules))
    assert guard.size == len(phrase)
    released: list[str] = []
    with pytest.raises(GuardrailViolationError):
        run_into(guard, list(f"well, {phrase}!"), released)
    assert "a very long" not in "".join(released)
    assert (
        run(holdback(Obligations(content_rules=rules)), list("x key-" + "ab" * 20 + " y"))
        == "x [REDACTED:key] y"
    )


def test_a_block_is_raised_before_the_word_is_released() -> None:
    guard = holdback(BLOCKING)
    released: list[str] = []
    with pytest.raises(GuardrailViolationError) as raised:
        run_into(guard, list("we are told this is forbidden knowledge, really"), released)
    assert "forbidden" not in "".join(released)
    assert "".join(released) == "we are told this is "[: len("".join(released))]
    assert raised.value.extra == {"rule": "stop", "direction": "output"}
    assert "forbidden" not in raised.value.detail.replace("'stop'", "")
    assert guard.findings.blocked == "stop"


def test_text_older_than_the_window_is_released() -> None:
    guard = holdback(REDACTING)
    text = "nothing to see here, just words and more words that go on"
    released = ""
    for i, char in enumerate(text, start=1):
        released += guard.feed(char)
        assert len(released) >= i - WINDOW - WINDOW // 4
        assert text.startswith(released)
    assert released + guard.finish() == text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(words=st.lists(ALPHABET, max_size=40), cuts=st.lists(st.integers(0, 400), max_size=30))
def test_any_chunking_gives_the_same_text_and_never_releases_a_match(
    words: list[str], cuts: list[int]
) -> None:
    text = "".join(words)
    whole = run(holdback(REDACTING), [text])
    chunked = run(holdback(REDACTING), pieces(text, cuts))
    assert chunked == whole
    # a marker stands where a word character stood (or a match began), so word boundaries hold
    plain = re.sub(r"\[REDACTED:\w+\]", "_", chunked)
    assert not CURSE.search(plain)
    assert not re.search(r"\d{6,}|sk-[a-z0-9]{8}", plain)


@settings(max_examples=300, deadline=None)
@given(words=st.lists(ALPHABET, max_size=40), cuts=st.lists(st.integers(0, 400), max_size=30))
def test_a_blocked_word_is_never_released_under_any_chunking(words: list[str], cuts: list[int]) -> None:
    half = len(words) // 2
    text = "".join(words[:half]) + " forbidden " + "".join(words[half:])
    guard = holdback(BLOCKING)
    released: list[str] = []
    with pytest.raises(GuardrailViolationError):
        run_into(guard, pieces(text, cuts), released)
    assert "forbidden" not in "".join(released)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=300), cuts=st.lists(st.integers(0, 400), max_size=30))
def test_any_text_without_matches_comes_through_unchanged(text: str, cuts: list[int]) -> None:
    rules = (
        ContentRule("never", "regex", r"\A\Z\A\Z", "redact"),
        ContentRule("w", "words", ("zzqq",), "block"),
    )
    guard = holdback(Obligations(content_rules=rules))
    expected_block = bool(re.search(r"(?<!\w)zzqq(?!\w)", text, re.IGNORECASE))
    if expected_block:
        return
    assert run(guard, pieces(text, cuts)) == text


# --- events ------------------------------------------------------------------------------------------


async def events(items: list[StreamEvent]) -> AsyncIterator[StreamEvent]:
    for item in items:
        yield item


def text_deltas(text: str, size: int, index: int = 0) -> list[StreamEvent]:
    head: StreamEvent = Delta([{"index": index, "delta": {"role": "assistant", "content": ""}}])
    body: list[StreamEvent] = [
        Delta([{"index": index, "delta": {"content": text[i : i + size]}, "logprobs": {"content": []}}])
        for i in range(0, len(text), size)
    ]
    end: StreamEvent = Delta([{"index": index, "delta": {}, "finish_reason": "stop"}])
    return [head, *body, end]


def collect(guard: OutputGuard, items: list[StreamEvent]) -> tuple[list[StreamEvent], BaseException | None]:
    out: list[StreamEvent] = []

    async def main() -> None:
        async for event in guard.stream(events(items)):
            out.append(event)

    try:
        asyncio.run(main())
    except GuardrailViolationError as error:
        return out, error
    return out, None


def content(out: list[StreamEvent], index: int = 0) -> str:
    return "".join(
        c["delta"].get("content") or ""
        for e in out
        if isinstance(e, Delta)
        for c in e.choices
        if c.get("index", 0) == index
    )


def test_the_stream_is_redacted_and_ends_as_it_should() -> None:
    guard = OutputGuard(REDACTING, None, holdback=WINDOW)
    items = [*text_deltas("so darn good, heck no", 1), StreamEnd(Usage(3, 5), "stop")]
    out, error = collect(guard, items)
    assert error is None
    assert content(out) == "so [REDACTED:curse] good, [REDACTED:curse]"
    assert out[0] == Delta([{"index": 0, "delta": {"role": "assistant", "content": ""}}])
    assert isinstance(out[-1], StreamEnd)
    assert out[-2].choices[0]["finish_reason"] == "stop"  # type: ignore[union-attr]
    assert all(c.get("logprobs") is None for e in out if isinstance(e, Delta) for c in e.choices)
    assert guard.findings.as_json() == {"pii": {}, "rules": {"curse": 2}, "blocked": None}


def test_tool_call_deltas_pass_unchanged_and_in_order() -> None:
    call: dict[str, Any] = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    tool = Delta([{"index": 0, "delta": {"tool_calls": [call]}}])
    args = Delta(
        [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '{"a": "darn"}'}}]}}]
    )
    items = [
        *text_deltas("x darn", 2)[:-1],
        tool,
        args,
        *text_deltas("", 1)[-1:],
        StreamEnd(Usage(), "tool_calls"),
    ]
    out, error = collect(OutputGuard(REDACTING, None, holdback=WINDOW), items)
    assert error is None
    assert tool in out
    assert args in out
    assert out.index(tool) < out.index(args)
    assert content(out) == "x [REDACTED:curse]"


def test_choices_are_guarded_apart() -> None:
    first, second = text_deltas("one darn", 1, 0), text_deltas("two heck no", 1, 1)
    interleaved = [e for pair in zip(first, second, strict=False) for e in pair] + second[len(first) :]
    out, error = collect(OutputGuard(REDACTING, None, holdback=WINDOW), [*interleaved, StreamEnd(Usage())])
    assert error is None
    assert content(out, 0) == "one [REDACTED:curse]"
    assert content(out, 1) == "two [REDACTED:curse]"


def test_a_block_ends_the_stream_with_the_error_and_nothing_that_broke_it() -> None:
    text = "a long harmless preamble that goes on and on, then forbidden words"
    out, error = collect(OutputGuard(BLOCKING, None, holdback=WINDOW), text_deltas(text, 1))
    assert isinstance(error, GuardrailViolationError)
    assert "forbidden" not in content(out)
    assert content(out)
    assert text.startswith(content(out))


def test_the_rest_is_flushed_at_the_end_without_a_finish_reason() -> None:
    items = [*text_deltas("ends darn", 3)[:-1], StreamEnd(Usage())]
    out, error = collect(OutputGuard(REDACTING, None, holdback=WINDOW), items)
    assert error is None
    assert content(out) == "ends [REDACTED:curse]"
    assert isinstance(out[-1], StreamEnd)


def test_expected_json_is_held_whole_and_validated() -> None:
    from aifactory.gateway.types import ChatRequest
    from aifactory.policy.guards import expected_json

    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    request = ChatRequest.model_validate(
        {
            "model": "m",
            "messages": [{"role": "user", "content": "x"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": schema}},
        }
    )
    good = OutputGuard(Obligations(), None, expect=expected_json(request))
    out, error = collect(good, text_deltas('{"n": 42}', 1))
    assert error is None
    texts = [
        c["delta"]["content"]
        for e in out
        if isinstance(e, Delta)
        for c in e.choices
        if c["delta"].get("content")
    ]
    assert texts == ['{"n": 42}']
    bad = OutputGuard(Obligations(), None, expect=expected_json(request))
    out, error = collect(bad, text_deltas('{"n": "4', 1))
    assert isinstance(error, GuardrailViolationError)
    assert error.extra["rule"] == "json_schema"
    assert content(out) == ""
    wrong = OutputGuard(Obligations(), None, expect=expected_json(request))
    out, error = collect(wrong, text_deltas('{"n": "secret value"}', 2))
    assert isinstance(error, GuardrailViolationError)
    assert "$.n" in error.detail
    assert "integer" in error.detail
    assert "secret" not in error.detail


def test_a_cel_rule_holds_the_whole_output_and_judges_it() -> None:
    rule = ContentRule("long", "cel", 'size(text) > 20 && surface == "web"', "block", "output")
    out, error = collect(
        OutputGuard(Obligations(content_rules=(rule,)), None, variables={"surface": "web"}),
        text_deltas("a" * 30, 1),
    )
    assert isinstance(error, GuardrailViolationError)
    assert content(out) == ""
    out, error = collect(
        OutputGuard(Obligations(content_rules=(rule,)), None, variables={"surface": "api"}),
        text_deltas("a" * 30, 1),
    )
    assert error is None
    assert content(out) == "a" * 30


def test_an_inactive_guard_passes_events_through() -> None:
    items = [*text_deltas("darn", 1), StreamEnd(Usage())]
    out, error = collect(OutputGuard(Obligations(), None), items)
    assert error is None
    assert out == items


# --- PII ---------------------------------------------------------------------------------------------

DETECTOR = default_detector()
EMAIL, PHONE, CARD = "alice.smith@example.com", "+44 20 7946 0958", "4111 1111 1111 1111"
PII = Obligations(
    redact={"EMAIL_ADDRESS": "mask", "CREDIT_CARD": "mask"},
    output_pii=frozenset({"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD"}),
    content_rules=RULES[:1],
)
PII_PIECES = st.sampled_from([EMAIL, PHONE, CARD, "darn", " ", ", ", "call me at ", "x", "é", "\n", "42"])


def pii_text(obligations: Obligations, chunks: list[str], size: int = 64) -> str:
    guard = OutputGuard(obligations, DETECTOR, holdback=size)
    out, error = collect(guard, [*_deltas_of(chunks), StreamEnd(Usage())])
    assert error is None
    return content(out)


def _deltas_of(chunks: list[str]) -> list[StreamEvent]:
    return [Delta([{"index": 0, "delta": {"content": c}}]) for c in chunks]


def test_pii_streamed_a_character_a_chunk_is_redacted() -> None:
    text = f"Sure: mail {EMAIL}, call {PHONE}, pay with {CARD}. darn."
    assert pii_text(PII, list(text)) == (
        "Sure: mail <EMAIL_ADDRESS>, call <PHONE_NUMBER>, pay with <CREDIT_CARD>. [REDACTED:curse]."
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PII_PIECES, max_size=25), cuts=st.lists(st.integers(0, 600), max_size=40))
def test_pii_is_never_released_under_any_chunking(parts: list[str], cuts: list[int]) -> None:
    text = " / ".join(parts)  # values run together are one value or none: the detector's call, not ours
    whole = pii_text(PII, [text] if text else [])
    chunked = pii_text(PII, pieces(text, cuts))
    assert chunked == whole
    for value in (EMAIL, PHONE, CARD, "alice.smith@", "4111 1111 1111"):
        assert value not in chunked


def test_a_pseudonym_split_across_chunks_is_restored_whole() -> None:
    keys = PiiKeyring.ephemeral().pseudonymizer()
    surrogate = keys.surrogate("EMAIL_ADDRESS", EMAIL)
    guard = OutputGuard(Obligations(), DETECTOR, pseudonymizer=keys, restore=True, holdback=32)
    text = f"I will write to {surrogate} today, and again to {surrogate}."
    out, error = collect(guard, [*_deltas_of(list(text)), StreamEnd(Usage())])
    assert error is None
    assert content(out) == f"I will write to {EMAIL} today, and again to {EMAIL}."


KEYS = PiiKeyring.ephemeral().pseudonymizer()
SURROGATES = [KEYS.surrogate("EMAIL_ADDRESS", EMAIL), KEYS.surrogate("PHONE_NUMBER", PHONE)]


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from([*SURROGATES, "<EMAIL_ADDRESS_00000000>", "<", ">", "x", " "]), max_size=30
    ),
    cuts=st.lists(st.integers(0, 900), max_size=40),
)
def test_pseudonyms_are_restored_under_any_chunking(parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    guard = OutputGuard(Obligations(), DETECTOR, pseudonymizer=KEYS, restore=True, holdback=32)
    out, error = collect(guard, [*_deltas_of(pieces(text, cuts)), StreamEnd(Usage())])
    assert error is None
    assert content(out) == KEYS.restore(text)
