"""Prompt files (YAML and Markdown): parsing, errors naming file and line, round trips over generated
specs, and diffs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aifactory.errors import InvalidInputError
from aifactory.prompts import PromptFile, PromptSpec, diff, dump, load, loads, to_yaml
from aifactory.prompts.files import PromptFormat, format_of

MARKDOWN = """---
name: greet
description: Greets a customer
variables:
  type: object
  required: [name]
  properties:
    name: {type: string}
model:
  route: chat-default
  parameters: {temperature: 0.2}
tags: {function: support, risk: low}
---

# system

You are a helpful assistant.
{% include "tone@production" %}

## User

Say hello to {{ name }}.
"""

YAML = """name: greet
description: Greets a customer
critical: true
variables:
  type: object
  properties:
    name: {type: string}
messages:
  - role: system
    content: |
      You are a helpful assistant.
  - role: user
    content: Say hello to {{ name }}.
"""


def failure(text: str, fmt: PromptFormat, source: str) -> str:
    with pytest.raises(InvalidInputError) as info:
        loads(text, fmt, source)
    return info.value.detail


def test_a_markdown_prompt_has_front_matter_and_one_message_per_heading(tmp_path: Path) -> None:
    path = tmp_path / "greet.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    prompt = load(path)
    assert (prompt.name, prompt.description, prompt.critical) == ("greet", "Greets a customer", False)
    assert prompt.spec.content() == {
        "messages": [
            {"role": "system", "content": 'You are a helpful assistant.\n{% include "tone@production" %}'},
            {"role": "user", "content": "Say hello to {{ name }}."},
        ],
        "variables": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "model": {"route": "chat-default", "parameters": {"temperature": 0.2}},
        "tags": {"function": "support", "risk": "low"},
    }


def test_a_markdown_body_without_headings_is_a_text_prompt() -> None:
    prompt = loads("---\nname: tone\n---\n\nBe brief and kind.\nNever rude.\n", "markdown")
    assert prompt.spec == PromptSpec(text="Be brief and kind.\nNever rude.")


def test_a_yaml_prompt_is_a_mapping_of_asset_and_spec_fields(tmp_path: Path) -> None:
    path = tmp_path / "greet.yml"
    path.write_text(YAML, encoding="utf-8")
    prompt = load(path)
    assert prompt.critical
    assert prompt.spec.messages is not None
    assert prompt.spec.messages[0].content == "You are a helpful assistant.\n"


def test_dump_writes_readable_files() -> None:
    prompt = loads(MARKDOWN, "markdown")
    assert dump(prompt, "markdown") == MARKDOWN.replace("## User", "# user").replace(
        """variables:
  type: object
  required: [name]
  properties:
    name: {type: string}
model:
  route: chat-default
  parameters: {temperature: 0.2}
tags: {function: support, risk: low}
""",
        """tags:
  function: support
  risk: low
model:
  route: chat-default
  parameters:
    temperature: 0.2
variables:
  type: object
  properties:
    name:
      type: string
  required:
  - name
""",
    )
    assert dump(loads(YAML, "yaml"), "yaml").endswith(
        """messages:
- role: system
  content: |
    You are a helpful assistant.
- role: user
  content: Say hello to {{ name }}.
"""
    )


def test_markdown_keeps_templates_that_the_body_would_change_in_the_front_matter() -> None:
    prompt = PromptFile(name="x", spec=PromptSpec(text="# user\nends with a newline\n"))
    text = dump(prompt, "markdown")
    assert text == "---\nname: x\ntext: |\n  # user\n  ends with a newline\n---\n"
    assert loads(text, "markdown") == prompt


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        (
            YAML.replace("{{ name }}.", "{{ name }."),
            "yaml",
            "greet.yaml line 13: messages[1].content line 1: unexpected '}'",
        ),
        (
            MARKDOWN.replace("Say hello to {{ name }}.", "Say hello\nto {{ name }"),
            "markdown",
            "greet.md line 20: messages[1].content line 2: unexpected '}'",
        ),
        ("name: greet\nname: again\ntext: hi\n", "yaml", "greet.yaml line 2: duplicate key 'name'"),
        ("name: greet\ntext: a\n  b: c\n", "yaml", "greet.yaml line 3: mapping values are not allowed here"),
        ("- name: greet\n", "yaml", "greet.yaml line 1: expected a mapping (name, messages or text, ...)"),
        ("text: hi\n", "yaml", "greet.yaml line 1: name: Field required"),
        (
            "name: bad name\ntext: hi\n",
            "yaml",
            "greet.yaml line 1: name: String should match pattern '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$'",
        ),
        (
            "name: greet\ntext: hi\nmodel:\n  parameters:\n    n: 2\n",
            "yaml",
            "greet.yaml line 4: model.parameters: unknown parameter 'n' (allowed: frequency_penalty, "
            "max_tokens, presence_penalty, seed, stop, temperature, top_p)",
        ),
        (
            "name: greet\nmessages:\n  - role: user\n    content: hi\n  - role: robot\n    content: hi\n",
            "yaml",
            "greet.yaml line 5: messages[1].role: Input should be 'system', 'user' or 'assistant'",
        ),
        (
            "name: greet\n",
            "yaml",
            'greet.yaml line 1: a prompt has exactly one of "messages" (chat) or "text"',
        ),
        (
            "name: greet\n",
            "markdown",
            "greet.md line 1: a Markdown prompt starts with YAML front matter between '---' lines",
        ),
        (
            "---\nname: greet\ntext: hi\n",
            "markdown",
            "greet.md line 1: the front matter is never closed by a '---' line",
        ),
        (
            "---\nname: greet\n---\nHello\n\n# user\nhi\n",
            "markdown",
            "greet.md line 4: text before the first role heading (# system, # user, # assistant)",
        ),
        (
            "---\nname: greet\ntext: hi\n---\n\n# user\nhi\n",
            "markdown",
            "greet.md line 6: the front matter has 'text', so the body must be empty",
        ),
        (
            "---\nname: greet\ntemplate: x\n---\nhi\n",
            "markdown",
            "greet.md line 3: template: Extra inputs are not permitted",
        ),
        (
            "---\nname: [greet\n---\nhi\n",
            "markdown",
            "greet.md line 3: expected ',' or ']', but got '<stream end>'",
        ),
    ],
)
def test_errors_name_the_file_and_line(text: str, fmt: PromptFormat, message: str) -> None:
    source = "greet.yaml" if fmt == "yaml" else "greet.md"
    assert failure(text, fmt, source) == message


def test_file_names_choose_the_format(tmp_path: Path) -> None:
    assert format_of("a/b.YAML") == "yaml"
    assert format_of("b.md") == "markdown"
    with pytest.raises(InvalidInputError, match=r"^notes.txt: not a prompt file; use .yaml, .yml, .md$"):
        format_of("notes.txt")
    with pytest.raises(
        InvalidInputError, match=r"missing.yaml: cannot read it \(No such file or directory\)"
    ):
        load(tmp_path / "missing.yaml")
    (tmp_path / "latin.md").write_bytes(b"---\nname: caf\xe9\n---\n")
    with pytest.raises(InvalidInputError, match=r"latin.md: not UTF-8 text \(byte 13\)"):
        load(tmp_path / "latin.md")


def test_deep_nesting_in_a_file_is_refused() -> None:
    text = "name: x\ntext: hi\ntags:\n  labels: " + "[" * 3000 + "]" * 3000 + "\n"
    assert failure(text, "yaml", "deep.yaml") == "deep.yaml: nested too deeply"


def test_windows_line_endings_are_read() -> None:
    assert loads(MARKDOWN.replace("\n", "\r\n"), "markdown") == loads(MARKDOWN, "markdown")


def test_the_examples_in_the_docs_are_one_prompt() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "prompts.md").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"```(yaml|markdown|json)\n(.*?)```", doc, re.DOTALL))
    assert PromptSpec.model_validate_json(blocks["json"]).is_chat
    from_yaml, from_markdown = loads(blocks["yaml"], "yaml"), loads(blocks["markdown"], "markdown")
    assert from_yaml == from_markdown
    assert dump(from_markdown, "yaml") == blocks["yaml"]


# --- round trips over generated prompts -------------------------------------------------------------

TEMPLATES = st.sampled_from(
    [
        "Hello {{ name }}",
        "{% if formal %}Dear {{ name }},{% else %}Hi!{% endif %}",
        "{% for item in items %}- {{ item }}\n{% endfor %}",
        "{# a comment #}{{ x | default('none') }}",
        "{% include 'tone@production' %}",
        "{% include 'tone@v3' %}\n",
        "# user",
        "## System\n",
    ]
)
PLAIN = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="{}\x00"), max_size=40)
TEXT = st.lists(
    st.one_of(TEMPLATES, PLAIN, st.sampled_from(["\n", "\n\n", "  ", "\r\n", "\t"])), max_size=6
).map("".join)
MESSAGES = st.lists(
    st.builds(
        lambda role, content: {"role": role, "content": content},
        st.sampled_from(["system", "user", "assistant"]),
        TEXT,
    ),
    min_size=1,
    max_size=4,
)
OPTIONAL: dict[str, st.SearchStrategy[Any]] = {
    "variables": st.sampled_from(
        [
            {"type": "object"},
            {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            {
                "type": "object",
                "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/x"}}},
                "$defs": {"x": {}},
            },
        ]
    ),
    "model": st.fixed_dictionaries(
        {},
        optional={
            "route": st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
            "parameters": st.fixed_dictionaries(
                {},
                optional={
                    "temperature": st.floats(0, 2),
                    "top_p": st.floats(0, 1),
                    "max_tokens": st.integers(1, 100_000),
                    "seed": st.integers(-(2**40), 2**40),
                    "stop": st.one_of(PLAIN, st.lists(PLAIN, max_size=4)),
                    "presence_penalty": st.floats(-2, 2),
                },
            ),
        },
    ),
    "response_format": st.sampled_from(
        [
            {"type": "text"},
            {"type": "json_object"},
            {
                "type": "json_schema",
                "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
            },
        ]
    ),
    "tools": st.just([{"type": "function", "function": {"name": "lookup", "description": "Find it."}}]),
    "tags": st.fixed_dictionaries(
        {},
        optional={
            "function": PLAIN,
            "risk": st.sampled_from(["low", "medium", "high", "critical"]),
            "model_family": PLAIN,
            "labels": st.lists(PLAIN, max_size=3),
        },
    ),
}
CONTENT = st.fixed_dictionaries(
    {
        "body": st.one_of(
            st.builds(lambda m: {"messages": m}, MESSAGES), st.builds(lambda t: {"text": t}, TEXT)
        )
    },
    optional=OPTIONAL,
).map(lambda d: {**d.pop("body"), **d})
PROMPTS = st.builds(
    lambda name, description, critical, content: PromptFile(
        name=name, description=description, critical=critical, spec=PromptSpec.model_validate(content)
    ),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,30}", fullmatch=True),
    PLAIN,
    st.booleans(),
    CONTENT,
)


@settings(max_examples=300, deadline=None)
@given(prompt=PROMPTS, fmt=st.sampled_from(["yaml", "markdown"]))
def test_load_of_dump_is_the_same_prompt(prompt: PromptFile, fmt: PromptFormat) -> None:
    text = dump(prompt, fmt)
    loaded = loads(text, fmt)
    assert loaded == prompt
    assert loaded.spec.content() == prompt.spec.content()
    assert dump(loaded, fmt) == text


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    prompt = loads(MARKDOWN, "markdown")
    for name in ("greet.md", "greet.yaml"):
        (tmp_path / name).write_text(dump(prompt, format_of(name)), encoding="utf-8")
        assert load(tmp_path / name) == prompt


# --- diff -------------------------------------------------------------------------------------------


def test_diff_is_a_unified_diff_of_stable_yaml() -> None:
    one = PromptSpec.model_validate(
        {
            "messages": [
                {"role": "system", "content": "Be kind.\nBe brief."},
                {"role": "user", "content": "{{ q }}"},
            ]
        }
    )
    two = PromptSpec.model_validate(
        {
            "model": {"parameters": {"temperature": 0.5}},
            "messages": [
                {"role": "system", "content": "Be kind.\nBe precise."},
                {"role": "user", "content": "{{ q }}"},
            ],
        }
    )
    assert diff(one, two, "greet@1", "greet@2") == (
        "--- greet@1\n"
        "+++ greet@2\n"
        "@@ -1,7 +1,10 @@\n"
        "+model:\n"
        "+  parameters:\n"
        "+    temperature: 0.5\n"
        " messages:\n"
        " - role: system\n"
        "   content: |-\n"
        "     Be kind.\n"
        "-    Be brief.\n"
        "+    Be precise.\n"
        " - role: user\n"
        "   content: '{{ q }}'\n"
    )
    assert diff(one, one, "greet@1", "greet@1") == ""


def test_the_yaml_rendering_ignores_key_order() -> None:
    a = PromptSpec.model_validate(
        {"text": "x", "variables": {"type": "object", "required": ["a"], "properties": {"a": {}}}}
    )
    b = PromptSpec.model_validate(
        {"variables": {"properties": {"a": {}}, "required": ["a"], "type": "object"}, "text": "x"}
    )
    assert (
        to_yaml(a)
        == to_yaml(b)
        == "variables:\n  type: object\n  properties:\n    a: {}\n  required:\n  - a\ntext: x\n"
    )
