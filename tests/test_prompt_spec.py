"""PromptSpec: good and bad specs with their exact messages, refs, the plugin, and a push over HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from aifactory.catalog import content_hash
from aifactory.plugins import collect, plugin_manager
from aifactory.prompts import PromptSpec, parse_ref, parse_spec, spec_hash
from aifactory.prompts.refs import PromptRef
from conftest import LiveServer

CHAT = {
    "messages": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Hello {{ name }}"},
    ],
    "variables": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
}


def refused(content: dict[str, Any]) -> str:
    with pytest.raises(ValueError, match=r".") as info:
        parse_spec(content)
    return str(info.value)


def test_a_full_spec_is_accepted_and_its_content_is_as_given() -> None:
    content = {
        **CHAT,
        "model": {"route": "chat-default", "parameters": {"temperature": 0.2, "stop": ["\n\n"], "seed": 7}},
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "greeting", "schema": {"type": "object"}, "strict": True},
        },
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
        "tags": {"function": "support", "risk": "low", "model_family": "gpt", "labels": ["greeting"]},
    }
    spec = parse_spec(content)
    assert spec.is_chat
    assert spec.content() == content
    assert spec_hash(spec) == content_hash(content)
    assert spec.templates() == {
        "messages[0].content": "You are terse.",
        "messages[1].content": "Hello {{ name }}",
    }


def test_a_text_prompt_gets_the_default_variables_schema() -> None:
    spec = parse_spec({"text": "Be kind.\n"})
    assert not spec.is_chat
    assert spec.variables == {"type": "object"}
    assert spec.content() == {"text": "Be kind.\n"}


def test_templates_keep_their_whitespace() -> None:
    assert parse_spec({"text": "  indented\n\n"}).text == "  indented\n\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            {"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": "a\nb\n{{ x }\n"}]},
            "messages[1].content line 3: unexpected '}'",
        ),
        (
            {"text": "{% if x %}open"},
            "text line 1: Unexpected end of template. Jinja was looking for the following tags: "
            "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'.",
        ),
        ({}, 'a prompt has exactly one of "messages" (chat) or "text"'),
        (
            {"text": "a", "messages": [{"role": "user", "content": "b"}]},
            'a prompt has exactly one of "messages" (chat) or "text"',
        ),
        ({"messages": []}, "messages: List should have at least 1 item after validation, not 0"),
        (
            {"messages": [{"role": "bot", "content": "x"}]},
            "messages[0].role: Input should be 'system', 'user' or 'assistant'",
        ),
        ({"text": "x", "template": "y"}, "template: Extra inputs are not permitted"),
        (
            {"text": "x", "variables": {"type": "array"}},
            'variables: must be the schema of an object ("type": "object")',
        ),
        (
            {"text": "x", "variables": {"type": "object", "properties": {"n": {"type": "bogus"}}}},
            "variables: not a valid JSON Schema (draft 2020-12) at properties.n.type: "
            "'bogus' is not valid under any of the given schemas",
        ),
        (
            {"text": "x", "variables": {"type": "object", "properties": {"n": {"$ref": "https://x.test/s"}}}},
            "variables: only local $refs (#/...) are allowed, not 'https://x.test/s'",
        ),
        (
            {"text": "x", "model": {"parameters": {"logit_bias": {}, "n": 2}}},
            "model.parameters: unknown parameters 'logit_bias', 'n' (allowed: frequency_penalty, "
            "max_tokens, presence_penalty, seed, stop, temperature, top_p)",
        ),
        (
            {"text": "x", "model": {"parameters": {"temperature": 3}}},
            "model.parameters.temperature: Input should be less than or equal to 2",
        ),
        (
            {"text": "x", "model": {"parameters": {"stop": ["a", "b", "c", "d", "e"]}}},
            "model.parameters.stop: at most 4 stop sequences",
        ),
        (
            {"text": "x", "response_format": {"type": "json_schema"}},
            'response_format: "json_schema" is required with type json_schema, and only with it',
        ),
        (
            {
                "text": "x",
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {"type": 3}},
                },
            },
            "response_format.json_schema.schema: not a valid JSON Schema (draft 2020-12) at type: "
            "3 is not valid under any of the given schemas",
        ),
        (
            {"text": "x", "response_format": {"type": "xml"}},
            "response_format.type: Input should be 'text', 'json_object' or 'json_schema'",
        ),
        (
            {"text": "x", "tools": [{"type": "function", "function": {"name": "f"}}] * 2},
            "tools: tool names must be unique; repeated: f",
        ),
        (
            {"text": "x", "tags": {"risk": "extreme"}},
            "tags.risk: Input should be 'low', 'medium', 'high' or 'critical'",
        ),
        ({"text": "a\x00"}, "text must not contain NUL (\\u0000) characters"),
        (
            {"text": "{% include 'footer' %}"},
            "text line 1: include 'footer' is not a prompt ref "
            "(use name@label, name@v3 or name@sha256:<64 hex digits>)",
        ),
        (
            {"text": "\n{% include name %}"},
            "text line 2: an include takes one literal prompt ref "
            "(name@label, name@v3 or name@sha256:<64 hex digits>)",
        ),
    ],
)
def test_bad_specs_are_refused_naming_the_field(content: dict[str, Any], message: str) -> None:
    assert refused(content) == message


def test_deep_nesting_is_refused_not_a_crash() -> None:
    assert refused({"text": "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"}) == (
        "text line 1: the template nests too deeply to compile"
    )
    schema: dict[str, Any] = {"type": "object"}
    inner = schema
    for _ in range(3000):
        inner["properties"] = {"a": {"type": "object"}}
        inner = inner["properties"]["a"]
    assert refused({"text": "x", "variables": schema}) == "the content nests too deeply"


def test_includes_of_every_form_are_accepted() -> None:
    digest = "a" * 64
    text = f"{{% include 'tone@production' %}}{{% include 'tone@v3' %}}{{% include 'tone@sha256:{digest}' %}}"
    assert parse_spec({"text": text}).text == text


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("tone@production", PromptRef("tone", label="production")),
        ("tone@v12", PromptRef("tone", version=12)),
        ("my.tone-2@sha256:" + "0" * 64, PromptRef("my.tone-2", digest="0" * 64)),
        ("tone@v0", PromptRef("tone", label="v0")),
    ],
)
def test_refs_parse_and_print_back(ref: str, parsed: PromptRef) -> None:
    assert parse_ref(ref) == parsed
    assert str(parsed) == ref


@pytest.mark.parametrize(
    "ref", ["tone", "tone@", "@production", "tone@Production", "tone@sha256:abc", "a b@x"]
)
def test_bad_refs_are_refused(ref: str) -> None:
    with pytest.raises(ValueError, match="is not a prompt ref"):
        parse_ref(ref)


def test_the_prompt_kind_is_registered_by_the_builtin_plugin() -> None:
    kinds = dict(collect(plugin_manager(entry_points=False), "aifactory_register_asset_kinds"))
    assert kinds["prompt"]({"text": "hi"}) == PromptSpec(text="hi")
    with pytest.raises(ValueError, match=r"^text line 1: unexpected '}'$"):
        kinds["prompt"]({"text": "{{ x }"})


def test_an_invalid_template_is_refused_over_http(live_server: LiveServer) -> None:
    client = live_server.client()
    assert client.post("/v1/assets", json={"kind": "prompt", "name": "greet"}).status_code == 201
    bad = {
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi\n{{ name }"}]
    }
    response = client.post("/v1/assets/prompt:greet/versions", json={"content": bad})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "invalid prompt content: messages[1].content line 2: unexpected '}'"
    good = client.post("/v1/assets/prompt:greet/versions", json={"content": CHAT})
    assert good.status_code == 201
    assert good.json()["content_hash"] == spec_hash(parse_spec(CHAT))
