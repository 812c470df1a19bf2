"""Guards on whole texts: content rules (regex, word lists, CEL) compiled once and refused when
unsafe, input redaction and blocking, output checks, the JSON a request asks for, and text of any
kind (empty, huge, any script, lone surrogates) handled without a crash."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
import regex

from aifactory.errors import ConfigurationError, GuardrailViolationError, InvalidInputError
from aifactory.gateway.providers._upstream import Transport
from aifactory.gateway.providers.openai import OpenAIModel
from aifactory.gateway.specs import DeploymentSpec
from aifactory.gateway.types import ChatRequest, ChatResponse, EmbeddingRequest, Usage
from aifactory.policy.decision import ContentRule, Obligations
from aifactory.policy.guards import (
    CallGuards,
    InputGuard,
    OutputGuard,
    Redacting,
    RuleSet,
    TextGuard,
    compile_rules,
    expected_json,
    guard_input,
)
from aifactory.policy.pii import PiiKeyring, default_detector
from aifactory.testing import FakeProvider

DETECTOR = default_detector()
EMAIL, PHONE = "alice.smith@example.com", "+44 20 7946 0958"
CURSE = ContentRule("curse", "words", ("darn", "heck no", "καλημέρα"), "redact", "both")
SECRET = ContentRule("secret", "regex", r"sk-[A-Za-z0-9]{8,40}", "redact", "input")
STOP = ContentRule("stop", "words", ("forbidden",), "block", "both")
SHOUT = ContentRule("shout", "cel", 'text.matches("^[A-Z !]+$") && surface == "web"', "redact", "output")


def chat(*messages: Any, **extra: Any) -> ChatRequest:
    shaped = [m if isinstance(m, dict) else {"role": "user", "content": m} for m in messages]
    return ChatRequest.model_validate({"model": "r", "messages": shaped, **extra})


def response(*texts: str | None, **message: Any) -> ChatResponse:
    choices = [
        {"index": i, "message": {"role": "assistant", "content": t, **message}, "logprobs": {"content": []}}
        for i, t in enumerate(texts)
    ]
    return ChatResponse(choices, Usage(1, 1))


# --- compiling rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        (ContentRule("r", "regex", "(a+)+b"), "backtrack catastrophically"),
        (ContentRule("r", "regex", "(x|xy)*z"), "alternation inside an unbounded"),
        (ContentRule("r", "regex", r"(\w+)\s\1"), "backreference"),
        (ContentRule("r", "regex", "(unclosed"), "not a valid regex"),
        (ContentRule("r", "regex", "a" * 3000), "longer than"),
        (ContentRule("r", "words", ("", "  ")), "word list is empty"),
        (ContentRule("r", "cel", "text =="), "not a valid CEL"),
        (ContentRule("r", "cel", ("not", "a string")), "one non-empty string"),
    ],
)
def test_bad_or_unsafe_rules_are_refused_naming_the_rule(rule: ContentRule, says: str) -> None:
    with pytest.raises(InvalidInputError, match=says) as raised:
        compile_rules((rule,), "output")
    assert "'r'" in raised.value.detail


def test_safe_regexes_compile_and_rules_compile_once() -> None:
    rules = (
        ContentRule("a", "regex", r"(?:\d{3}-)+\d{4}"),
        ContentRule("b", "regex", r"\b(?:password|secret)\s*[:=]\s*\S+"),
        CURSE,
    )
    assert compile_rules(rules, "output") is compile_rules(rules, "output")
    assert compile_rules(rules, "input").patterns == ()  # a and b apply to output only


def test_a_regex_search_that_runs_too_long_blocks(caplog: pytest.LogCaptureFixture) -> None:
    # A rule the static check would refuse, compiled by hand to reach the engine's timeout.
    slow = ContentRule("slow", "regex", "(a+)+b", "redact")
    rules = RuleSet(patterns=((slow, regex.compile("(a+)+b")),))
    guard = OutputGuard(Obligations(), None)
    guard.text = TextGuard(rules, None, "output")
    with pytest.raises(GuardrailViolationError) as raised:
        guard.response(response("a" * 5000))
    assert raised.value.extra["rule"] == "slow"
    assert "content rule slow: a regex search took over" in caplog.text


def test_rules_apply_to_their_direction() -> None:
    assert [r.id for r, _ in compile_rules((SECRET, CURSE), "input").patterns] == ["secret"]
    assert compile_rules((SECRET,), "output").patterns == ()
    assert compile_rules((SHOUT,), "input").predicates == ()


# --- input -------------------------------------------------------------------------------------------


def test_input_text_parts_are_guarded_and_images_never_touched() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,ZGFybg=="}}
    request = chat(
        {"role": "system", "content": "key sk-ABCDEFGH1234 here"},
        {"role": "user", "content": [{"type": "text", "text": "oh darn"}, image]},
    )
    guarded, findings = guard_input(request, Obligations(content_rules=(SECRET, CURSE)), None)
    assert guarded.messages[0].content == "key [REDACTED:secret] here"
    assert guarded.messages[1].content == [{"type": "text", "text": "oh [REDACTED:curse]"}, image]
    assert request.messages[0].content == "key sk-ABCDEFGH1234 here"  # the caller's copy is unchanged
    assert findings.as_json() == {"pii": {}, "rules": {"curse": 1, "secret": 1}, "blocked": None}


def test_a_blocking_input_rule_raises_before_anything_is_sent() -> None:
    with pytest.raises(GuardrailViolationError) as raised:
        guard_input(chat("hello", "this is Forbidden!"), Obligations(content_rules=(STOP,)), None)
    assert raised.value.extra == {"rule": "stop", "direction": "input"}
    assert "Forbidden" not in raised.value.detail


def test_a_request_without_matches_is_the_same_object() -> None:
    request = chat("nothing here", {"role": "assistant", "content": None, "tool_calls": None})
    guarded, findings = guard_input(request, Obligations(content_rules=(CURSE,)), None)
    assert guarded is request
    assert not findings


def test_rules_up_front_and_redaction_per_deployment_count_once_each() -> None:
    obligations = Obligations(redact={"EMAIL_ADDRESS": "mask"}, content_rules=(CURSE,))
    rules, pii = InputGuard(obligations, None, pii=False), InputGuard(obligations, DETECTOR, rules=False)
    request = rules.chat(chat("darn, mail alice.smith@example.com"))
    assert pii.chat(request).messages[0].content == "[REDACTED:curse], mail <EMAIL_ADDRESS>"
    both = rules.findings.merged(pii.findings).as_json()
    assert both == {"pii": {"EMAIL_ADDRESS": 1}, "rules": {"curse": 1}, "blocked": None}


def test_the_input_guard_guards_a_request_once() -> None:
    guard = InputGuard(Obligations(content_rules=(CURSE,)), None)
    request = chat("darn it")
    assert guard.chat(request) is guard.chat(request)
    assert guard.findings.rules == {"curse": 1}


def test_embedding_inputs_are_guarded() -> None:
    guard = InputGuard(Obligations(content_rules=(CURSE,)), None)
    one = guard.embedding(EmbeddingRequest(model="e", input="darn"))
    many = guard.embedding(EmbeddingRequest(model="e", input=["a", "heck no b"]))
    assert one.input == "[REDACTED:curse]"
    assert many.input == ["a", "[REDACTED:curse] b"]


def test_input_cel_rules_judge_each_text_with_the_context() -> None:
    rule = ContentRule("eu-only", "cel", 'jurisdiction == "EU" && text.contains("export")', "block", "input")
    with pytest.raises(GuardrailViolationError):
        guard_input(
            chat("please export it"),
            Obligations(content_rules=(rule,)),
            None,
            variables={"jurisdiction": "EU"},
        )
    same, _ = guard_input(
        chat("please export it"), Obligations(content_rules=(rule,)), None, variables={"jurisdiction": "US"}
    )
    assert same.messages[0].content == "please export it"


def test_a_cel_rule_that_cannot_be_evaluated_fails_closed() -> None:
    rule = ContentRule("broken", "cel", "int(text) > 3", "block", "input")
    with pytest.raises(GuardrailViolationError):
        guard_input(chat("not a number"), Obligations(content_rules=(rule,)), None)


# --- output ------------------------------------------------------------------------------------------


def test_output_rules_redact_every_choice_and_drop_logprobs() -> None:
    guard = OutputGuard(Obligations(content_rules=(CURSE, SECRET)), None)
    out = guard.response(response("darn sk-ABCDEFGH1234", "καλημέρα σας"))
    assert [c["message"]["content"] for c in out.choices] == [
        "[REDACTED:curse] sk-ABCDEFGH1234",
        "[REDACTED:curse] σας",
    ]
    assert all(c["logprobs"] is None for c in out.choices)


def test_content_parts_in_an_answer_are_guarded() -> None:
    parts = [{"type": "text", "text": "oh darn"}, {"type": "image_url", "image_url": {"url": "darn.png"}}]
    out = OutputGuard(Obligations(content_rules=(CURSE,)), None).response(response(None, content=parts))
    assert out.choices[0]["message"]["content"] == [{"type": "text", "text": "oh [REDACTED:curse]"}, parts[1]]


def test_tool_call_answers_are_left_alone() -> None:
    calls = [{"id": "c", "type": "function", "function": {"name": "f", "arguments": '{"x": "darn"}'}}]
    guard = OutputGuard(Obligations(content_rules=(CURSE,)), None)
    original = response(None, tool_calls=calls)
    assert guard.response(original).choices == original.choices


def test_a_blocking_output_rule_raises() -> None:
    guard = OutputGuard(Obligations(content_rules=(STOP,)), None)
    with pytest.raises(GuardrailViolationError) as raised:
        guard.response(response("that is forbidden"))
    assert raised.value.extra["direction"] == "output"
    assert guard.findings.blocked == "stop"


def test_an_output_cel_rule_redacts_the_whole_text() -> None:
    guard = OutputGuard(Obligations(content_rules=(SHOUT,)), None, variables={"surface": "web"})
    assert guard.response(response("STOP SHOUTING!")).text == "[REDACTED:shout]"
    assert guard.response(response("calm")).text == "calm"


# --- JSON --------------------------------------------------------------------------------------------

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}


def schema_request(schema: Any = SCHEMA) -> ChatRequest:
    return chat("x", response_format={"type": "json_schema", "json_schema": {"name": "p", "schema": schema}})


def test_output_valid_against_the_schema_passes() -> None:
    guard = OutputGuard(Obligations(), None, expect=expected_json(schema_request()))
    assert guard.response(response('{"name": "Ada", "age": 36}')).text == '{"name": "Ada", "age": 36}'


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"name": "Ada"}', "at $: fails 'required'"),
        ('{"name": "Ada", "age": -1}', "at $.age: fails 'minimum' 0"),
        ('{"name": "Ada", "age": "36"}', "at $.age: fails 'type' \"integer\""),
        ("not json", "not valid JSON"),
        ('{"name": "Ada", "age": 3', "not valid JSON"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_invalid_output_names_the_first_schema_error(text: str, says: str) -> None:
    guard = OutputGuard(Obligations(), None, expect=expected_json(schema_request()))
    with pytest.raises(GuardrailViolationError) as raised:
        guard.response(response(text))
    assert says in raised.value.detail
    assert raised.value.extra["rule"] == "json_schema"
    assert "Ada" not in raised.value.detail
    assert "36" not in raised.value.detail


def test_json_object_mode_wants_an_object() -> None:
    guard = OutputGuard(
        Obligations(), None, expect=expected_json(chat("x", response_format={"type": "json_object"}))
    )
    assert guard.response(response('{"a": 1}')).text == '{"a": 1}'
    with pytest.raises(GuardrailViolationError, match="not a JSON object"):
        guard.response(response("[1, 2]"))


def test_a_remote_ref_is_never_fetched() -> None:
    guard = OutputGuard(
        Obligations(), None, expect=expected_json(schema_request({"$ref": "https://example.com/s.json"}))
    )
    with pytest.raises(GuardrailViolationError, match="cannot be resolved"):
        guard.response(response("{}"))


@pytest.mark.parametrize(
    "response_format",
    [
        {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "nonsense"}}},
        {"type": "json_schema", "json_schema": {"name": "p", "schema": [1]}},
        {"type": "yaml"},
    ],
)
def test_a_bad_response_format_is_the_callers_400(response_format: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        expected_json(chat("x", response_format=response_format))


def test_text_and_absent_formats_expect_nothing() -> None:
    assert expected_json(chat("x")) is None
    assert expected_json(chat("x", response_format={"type": "text"})) is None


# --- odd text ----------------------------------------------------------------------------------------

ODD = [
    "",
    "\x00\x01\x02",
    "\ud800 lone surrogate darn \udfff",
    "שלום darn עולם",
    "e\u0301 darn\u200b",
    "😀" * 1000 + " darn",
    "ДАРН darn ΚΑΛΗΜΕΡΑ",
]


@pytest.mark.parametrize("text", ODD)
def test_odd_text_is_handled_both_ways(text: str) -> None:
    rules = (CURSE, SECRET, SHOUT, ContentRule("n", "regex", r"\d+", "redact", "both"))
    guarded, _ = guard_input(chat(text), Obligations(content_rules=rules), None)
    assert isinstance(guarded.messages[0].content, str)
    out = OutputGuard(Obligations(content_rules=rules), None).response(response(text)).text
    assert "darn" not in out


def test_a_huge_text_is_scanned_in_bounded_windows() -> None:
    text = ("lorem ipsum " * 100_000) + "darn " + ("1" * 50_000)
    rules = (CURSE, ContentRule("n", "regex", r"\d+", "redact", "both"))
    out = OutputGuard(Obligations(content_rules=rules), None).response(response(text)).text
    assert out == ("lorem ipsum " * 100_000) + "[REDACTED:curse] [REDACTED:n]"


# --- PII ---------------------------------------------------------------------------------------------

MASKED = Obligations(redact={"EMAIL_ADDRESS": "mask", "PHONE_NUMBER": "remove"})


def test_pii_in_input_text_is_redacted_per_type_and_counted() -> None:
    image = {"type": "image_url", "image_url": {"url": f"https://x.test/{EMAIL}.png"}}
    request = chat(
        f"mail {EMAIL} or call {PHONE} today",
        {"role": "user", "content": [{"type": "text", "text": f"cc {EMAIL}"}, image]},
    )
    guarded, findings = guard_input(request, MASKED, DETECTOR)
    assert guarded.messages[0].content == "mail <EMAIL_ADDRESS> or call  today"
    assert guarded.messages[1].content == [{"type": "text", "text": "cc <EMAIL_ADDRESS>"}, image]
    assert findings.as_json() == {
        "pii": {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1},
        "rules": {},
        "blocked": None,
    }
    assert EMAIL not in json.dumps(findings.as_json())


def test_pseudonyms_are_restored_for_callers_who_may_see_originals() -> None:
    keys = PiiKeyring.ephemeral().pseudonymizer()
    obligations = Obligations(redact={"EMAIL_ADDRESS": "pseudonymize"})
    guarded, _ = guard_input(chat(f"write to {EMAIL}"), obligations, DETECTOR, pseudonymizer=keys)
    sent = guarded.messages[0].content
    assert isinstance(sent, str)
    assert EMAIL not in sent
    surrogate = sent.removeprefix("write to ")
    answer = response(f"I wrote to {surrogate}.")
    restoring = OutputGuard(obligations, DETECTOR, pseudonymizer=keys, restore=True)
    assert restoring.response(answer).text == f"I wrote to {EMAIL}."
    keeping = OutputGuard(obligations, DETECTOR, pseudonymizer=keys)
    assert keeping.response(answer).text == f"I wrote to {surrogate}."


def test_output_pii_is_redacted_after_restoring() -> None:
    keys = PiiKeyring.ephemeral().pseudonymizer()
    surrogate = keys.surrogate("EMAIL_ADDRESS", EMAIL)
    obligations = Obligations(redact={"EMAIL_ADDRESS": "mask"}, output_pii=frozenset({"EMAIL_ADDRESS"}))
    guard = OutputGuard(obligations, DETECTOR, pseudonymizer=keys, restore=True)
    assert (
        guard.response(response(f"to {surrogate} and {EMAIL}")).text
        == "to <EMAIL_ADDRESS> and <EMAIL_ADDRESS>"
    )
    assert guard.findings.pii == {"EMAIL_ADDRESS": 2}


def test_a_type_the_detector_cannot_find_is_left_out_and_an_unknown_mode_is_refused(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A pack may name types only another detector finds (Presidio with spaCy): those are left out,
    # logged, rather than every call refused; the types the detector finds are still redacted.
    guard = InputGuard(Obligations(redact={"PERSON_NAME_X": "mask", "EMAIL_ADDRESS": "mask"}), DETECTOR)
    redacted = guard.chat(
        ChatRequest.model_validate({"model": "m", "messages": [{"role": "user", "content": "a@b.io"}]})
    )
    assert redacted.messages[0].content == "<EMAIL_ADDRESS>"
    assert "PERSON_NAME_X" in caplog.text
    with pytest.raises(ConfigurationError, match="no PII detector"):
        OutputGuard(Obligations(output_pii=frozenset({"EMAIL_ADDRESS"})), None)
    with pytest.raises(InvalidInputError, match="unknown redaction mode"):
        OutputGuard(
            Obligations(redact={"EMAIL_ADDRESS": "shred"}, output_pii=frozenset({"EMAIL_ADDRESS"})), DETECTOR
        )


def test_overlapping_spans_are_replaced_once() -> None:
    domain = ContentRule("domain", "regex", r"example\.com", "redact")
    obligations = Obligations(output_pii=frozenset({"EMAIL_ADDRESS"}), content_rules=(domain,))
    guard = OutputGuard(obligations, DETECTOR)
    assert guard.response(response(f"mail {EMAIL} or example.com")).text == (
        "mail <EMAIL_ADDRESS> or [REDACTED:domain]"
    )
    assert guard.findings.as_json() == {"pii": {"EMAIL_ADDRESS": 1}, "rules": {"domain": 2}, "blocked": None}


@pytest.mark.parametrize("text", ODD)
def test_odd_text_with_pii(text: str) -> None:
    odd = f"{text} {EMAIL}"
    guarded, _ = guard_input(chat(odd), MASKED, DETECTOR)
    assert EMAIL not in str(guarded.messages[0].content)


# --- the Redacting model -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


def test_a_redacting_model_sends_only_redacted_requests(fake: FakeProvider) -> None:
    spec = DeploymentSpec.model_validate(
        {"provider": "openai", "base_url": fake.url, "upstream_model": "fake-chat"}
    )
    embedder = DeploymentSpec.model_validate(
        {
            "provider": "openai",
            "base_url": fake.url,
            "upstream_model": "fake-embedding",
            "operation": "embeddings",
        }
    )

    async def flow() -> list[Any]:
        async with Transport() as transport:
            guard = InputGuard(MASKED, DETECTOR)
            model = Redacting(OpenAIModel("d", spec, transport), guard)
            whole = await model.complete(chat(f"hi {EMAIL}"))
            streamed = [e async for e in model.stream(chat(f"yo {PHONE}", stream=True))]
            vectors = await Redacting(OpenAIModel("e", embedder, transport), guard).embed(
                EmbeddingRequest(model="e", input=[EMAIL, "plain"])
            )
            return [whole, streamed, vectors, guard.findings]

    whole, streamed, vectors, findings = asyncio.run(flow())
    bodies = [c.body for c in fake.calls[-3:]]
    assert bodies[0]["messages"][0]["content"] == "hi <EMAIL_ADDRESS>"
    assert bodies[1]["messages"][0]["content"] == "yo "
    assert bodies[2]["input"] == ["<EMAIL_ADDRESS>", "plain"]
    assert whole.text == "echo: hi <EMAIL_ADDRESS>"
    assert streamed
    assert len(vectors.vectors) == 2
    assert findings.pii == {"EMAIL_ADDRESS": 2, "PHONE_NUMBER": 1}


def test_call_guards_apply_the_scope_of_redaction(fake: FakeProvider) -> None:
    spec = DeploymentSpec.model_validate(
        {"provider": "openai", "base_url": fake.url, "upstream_model": "fake-chat"}
    )
    rules = (CURSE,)
    external = Obligations(redact={"EMAIL_ADDRESS": "mask"}, redact_scope="external", content_rules=rules)
    everywhere = Obligations(redact={"EMAIL_ADDRESS": "mask"}, redact_scope="all", content_rules=rules)

    async def flow() -> list[Any]:
        async with Transport() as transport:
            model = OpenAIModel("d", spec, transport)
            out = []
            for obligations in (external, everywhere):
                guards = CallGuards(obligations, DETECTOR)
                request = guards.request(chat(f"darn, mail {EMAIL}"))
                assert guards.deployment(model, "local") is model
                await guards.deployment(model, "openai").complete(request)
                out += [
                    request.messages[0].content,
                    fake.calls[-1].body["messages"][0]["content"],
                    guards.findings(),
                ]
            return out

    kept, sent, found, redacted, sent_too, found_too = asyncio.run(flow())
    assert kept == f"[REDACTED:curse], mail {EMAIL}"  # a local model would see the address
    assert sent == sent_too == redacted == "[REDACTED:curse], mail <EMAIL_ADDRESS>"
    assert found == found_too
    assert found["input"] == {"pii": {"EMAIL_ADDRESS": 1}, "rules": {"curse": 1}, "blocked": None}
    assert found["output"] == {"pii": {}, "rules": {}, "blocked": None}


def test_call_guards_check_the_json_the_request_asks_for() -> None:
    guards = CallGuards(Obligations(), None, request=chat("x", response_format={"type": "json_object"}))
    with pytest.raises(GuardrailViolationError):
        guards.output.response(response("nope"))
