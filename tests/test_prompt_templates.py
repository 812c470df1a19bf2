"""Rendering: variables checked first, StrictUndefined, the sandbox, includes through a resolve
callback, cycles and nesting refused, and the includes recorded."""

from __future__ import annotations

from typing import Any

import pytest

from aifactory.errors import NotFoundError, PromptRenderError, PromptVariablesError
from aifactory.prompts import PromptSpec, find_cycle, includes, parse_spec, render, spec_hash
from aifactory.prompts.templates import MAX_INCLUDE_DEPTH


class Library:
    """A resolve callback over a dict of ref -> content, counting what it was asked for."""

    def __init__(self, prompts: dict[str, dict[str, Any]]) -> None:
        self.specs = {ref: parse_spec(content) for ref, content in prompts.items()}
        self.asked: list[str] = []

    def __call__(self, ref: str) -> PromptSpec:
        self.asked.append(ref)
        if ref not in self.specs:
            raise NotFoundError(f"prompt {ref} not found")
        return self.specs[ref]


NOTHING = Library({})


def rendered_text(text: str, variables: dict[str, Any] | None = None, library: Library = NOTHING) -> str:
    result = render(parse_spec({"text": text}), variables or {}, library)
    assert result.text is not None
    return result.text


def render_error(text: str, variables: dict[str, Any] | None = None, library: Library = NOTHING) -> str:
    with pytest.raises(PromptRenderError) as info:
        rendered_text(text, variables, library)
    return info.value.detail


def test_a_chat_prompt_renders_each_message() -> None:
    spec = parse_spec(
        {
            "messages": [
                {"role": "system", "content": "You help {{ customer.name }}."},
                {"role": "user", "content": "{% for q in questions %}- {{ q }}\n{% endfor %}"},
            ]
        }
    )
    result = render(spec, {"customer": {"name": "Ann"}, "questions": ["a", "b"]}, NOTHING)
    assert result.messages == [
        {"role": "system", "content": "You help Ann."},
        {"role": "user", "content": "- a\n- b\n"},
    ]
    assert result.text is None
    assert result.includes == {}


def test_no_autoescape_and_the_trailing_newline_is_kept() -> None:
    assert rendered_text("<b>{{ x }}</b>\n", {"x": "a & b"}) == "<b>a & b</b>\n"


def test_variables_are_checked_against_the_schema_naming_each_path() -> None:
    schema = {
        "type": "object",
        "required": ["customer", "n"],
        "properties": {
            "n": {"type": "integer"},
            "customer": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "name": {"type": "integer"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    }
    spec = parse_spec({"text": "{{ n }}", "variables": schema})
    with pytest.raises(PromptVariablesError) as info:
        render(spec, {"customer": {"name": "x", "tags": ["ok", 3]}}, NOTHING)
    assert info.value.detail == (
        "variables: 'n' is a required property; "
        "variables.customer: 'id' is a required property; "
        "variables.customer.name: 'x' is not of type 'integer'; "
        "variables.customer.tags[1]: 3 is not of type 'string'"
    )
    assert render(spec, {"n": 1, "customer": {"id": 1}}, NOTHING).text == "1"


def test_an_undefined_variable_is_an_error_naming_template_and_line() -> None:
    assert render_error("Hello\n{{ name }}") == "text line 2: 'name' is undefined"
    spec = parse_spec(
        {"messages": [{"role": "user", "content": "ok"}, {"role": "user", "content": "{{ a.b }}"}]}
    )
    with pytest.raises(
        PromptRenderError, match=r"^messages\[1\]\.content line 1: 'dict object' has no attribute 'b'$"
    ):
        render(spec, {"a": {}}, NOTHING)


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{{ ''.__class__.__mro__ }}",
            "text line 1: access to attribute '__class__' of 'str' object is unsafe.",
        ),
        ("{{ name.__class__ }}", "text line 1: access to attribute '__class__' of 'str' object is unsafe."),
        ("{{ joiner.__init__ }}", "text line 1: access to attribute '__init__' of 'type' object is unsafe."),
        ("{{ items.append(1) }}", "text line 1: access to attribute 'append' of 'list' object is unsafe."),
        ("{{ d.update({'a': 1}) }}", "text line 1: access to attribute 'update' of 'dict' object is unsafe."),
        (
            "{{ name.format.__globals__ }}",
            "text line 1: access to attribute '__globals__' of 'function' object is unsafe.",
        ),
        (
            "{{ range(10 ** 9) | list }}",
            "text line 1: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000). "
            "(OverflowError)",
        ),
    ],
)
def test_the_sandbox_refuses_unsafe_operations(template: str, message: str) -> None:
    assert render_error(template, {"name": "x", "items": [], "d": {}}) == message


def test_keys_of_the_variables_are_data_even_with_an_underscore() -> None:
    assert rendered_text("{{ d._id }}", {"d": {"_id": 7}}) == "7"


def test_a_failing_operation_is_a_render_error() -> None:
    assert render_error("\n{{ 1 / n }}", {"n": 0}) == "text line 2: division by zero (ZeroDivisionError)"


def test_runaway_recursion_is_a_render_error() -> None:
    message = render_error("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")
    assert message == "text: rendering recursed too deeply"


def test_includes_render_through_resolve_and_are_recorded_with_their_hash() -> None:
    library = Library(
        {
            "tone@production": {"text": "Be {{ mood }}.{% include 'sign@v2' %}"},
            "sign@v2": {"text": " -- {{ team }}"},
            "unused@production": {"text": "never"},
        }
    )
    spec = parse_spec(
        {
            "messages": [
                {"role": "system", "content": "{% include 'tone@production' %}"},
                {"role": "user", "content": "{% if formal %}{% include 'tone@production' %}{% endif %}Hi"},
            ]
        }
    )
    assert includes(spec) == {"tone@production"}
    result = render(spec, {"mood": "kind", "team": "ops", "formal": False}, library)
    assert result.messages == [
        {"role": "system", "content": "Be kind. -- ops"},
        {"role": "user", "content": "Hi"},
    ]
    assert result.includes == {
        "tone@production": spec_hash(library.specs["tone@production"]),
        "sign@v2": spec_hash(library.specs["sign@v2"]),
    }
    assert sorted(library.asked) == ["sign@v2", "tone@production"]


def test_only_text_prompts_can_be_included() -> None:
    library = Library({"chat@production": {"messages": [{"role": "user", "content": "x"}]}})
    message = render_error("{% include 'chat@production' %}", library=library)
    assert message == "chat@production is a chat prompt; only text prompts can be included"


def test_an_error_inside_an_include_names_the_include() -> None:
    library = Library({"footer@production": {"text": "ok\n{{ missing }}"}})
    assert render_error("{% include 'footer@production' %}", library=library) == (
        "footer@production line 2: 'missing' is undefined"
    )


def test_a_missing_include_is_the_resolvers_error() -> None:
    with pytest.raises(NotFoundError, match="prompt gone@production not found"):
        rendered_text("{% include 'gone@production' %}")


def test_an_include_cycle_is_refused_before_rendering() -> None:
    library = Library(
        {
            "a@production": {"text": "{% include 'b@production' %}"},
            "b@production": {"text": "{% include 'c@v1' %}"},
            "c@v1": {"text": "{% include 'a@production' %}"},
        }
    )
    message = render_error("{% include 'a@production' %}", library=library)
    assert message == "include cycle: a@production -> b@production -> c@v1 -> a@production"


def chain(length: int) -> Library:
    return Library(
        {
            f"p{i}@production": {
                "text": f"{{% include 'p{i + 1}@production' %}}" if i < length - 1 else "end"
            }
            for i in range(length)
        }
    )


def test_includes_may_nest_ten_deep_but_not_eleven() -> None:
    assert rendered_text("{% include 'p0@production' %}", library=chain(MAX_INCLUDE_DEPTH)) == "end"
    message = render_error("{% include 'p0@production' %}", library=chain(MAX_INCLUDE_DEPTH + 1))
    assert message == "includes nest deeper than 10: " + " -> ".join(f"p{i}@production" for i in range(11))


def test_find_cycle() -> None:
    graph = {"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": set()}
    assert find_cycle("a", lambda ref: graph[ref]) is None
    graph["d"] = {"b"}
    assert find_cycle("a", lambda ref: graph[ref]) == ["b", "d", "b"]
    assert find_cycle("x", lambda ref: {"x"}) == ["x", "x"]


def test_find_cycle_walks_a_long_chain_without_recursion() -> None:
    assert find_cycle("0", lambda ref: {str(int(ref) + 1)} if int(ref) < 50_000 else set()) is None


def test_find_cycle_visits_a_diamond_lattice_once_per_node() -> None:
    calls: list[str] = []

    def children(ref: str) -> set[str]:
        calls.append(ref)
        level = int(ref.split(".")[0])
        return {f"{level + 1}.0", f"{level + 1}.1"} if level < 40 else set()

    assert find_cycle("0.0", children) is None
    assert len(calls) == len(set(calls)) == 81
