"""Rendering prompts: variables checked against the schema, includes resolved through a callback,
cycles and deep nesting refused before anything renders, every template run in the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import FunctionLoader, TemplateError

from aifactory.catalog import content_hash
from aifactory.errors import AifactoryError, PromptRenderError
from aifactory.prompts.sandbox import check_template, environment, error_line
from aifactory.prompts.spec import PromptSpec
from aifactory.prompts.variables import validate_variables

__all__ = [
    "MAX_INCLUDE_DEPTH",
    "RenderedPrompt",
    "Resolve",
    "find_cycle",
    "includes",
    "render",
    "spec_hash",
]

MAX_INCLUDE_DEPTH = 10
"""How deep includes may nest (a prompt including a partial is depth 1)."""

Resolve = Callable[[str], PromptSpec]
"""Returns the prompt a ref names (`greet@production`); raises NotFoundError when there is none."""

_ROOT = ""  # the rendered prompt itself: never a valid ref


@dataclass(frozen=True)
class RenderedPrompt:
    """The result of a render: `messages` (a chat prompt) or `text`, and every include that was
    actually rendered, as ref -> content hash of the version it resolved to (for the run record)."""

    messages: list[dict[str, str]] | None = None
    text: str | None = None
    includes: dict[str, str] = field(default_factory=dict)


def spec_hash(spec: PromptSpec) -> str:
    """The content hash of a spec, as the catalog computes it for the version it came from."""
    return content_hash(spec.content())


def includes(spec: PromptSpec) -> set[str]:
    """The prompt refs that the spec's templates include, import or extend."""
    return set().union(*(check_template(source) for source in spec.templates().values()))


def find_cycle(root_ref: str, children: Callable[[str], set[str]]) -> list[str] | None:
    """A cycle reachable from `root_ref`, as the path that closes it (`[a, b, a]`), or None.

    Iterative and visiting each ref once, so neither a long chain nor a diamond is a problem.
    """
    path, on_path, done = [root_ref], {root_ref}, set()
    pending = [iter(sorted(children(root_ref)))]
    while pending:
        child = next(pending[-1], None)
        if child is None:
            pending.pop()
            on_path.discard(path[-1])
            done.add(path.pop())
        elif child in on_path:
            return [*path[path.index(child) :], child]
        elif child not in done:
            path.append(child)
            on_path.add(child)
            pending.append(iter(sorted(children(child))))
    return None


class _Partials:
    """The text prompts reachable from a root spec, each resolved once."""

    def __init__(self, root: PromptSpec, resolve: Resolve) -> None:
        self.root = root
        self.resolve = resolve
        self.specs: dict[str, PromptSpec] = {}

    def get(self, ref: str) -> PromptSpec:
        if ref not in self.specs:
            spec = self.resolve(ref)
            if spec.text is None:
                raise PromptRenderError(f"{ref} is a chat prompt; only text prompts can be included")
            self.specs[ref] = spec
        return self.specs[ref]

    def children(self, ref: str) -> set[str]:
        return includes(self.root if ref == _ROOT else self.get(ref))

    def check(self) -> None:
        """Resolve every include; refuse a cycle, or nesting deeper than MAX_INCLUDE_DEPTH."""
        cycle = find_cycle(_ROOT, self.children)
        if cycle is not None:
            raise PromptRenderError(f"include cycle: {' -> '.join(ref or '(this prompt)' for ref in cycle)}")
        level: dict[str, list[str]] = {_ROOT: []}  # each ref at this depth, with one path to it
        for _depth in range(MAX_INCLUDE_DEPTH + 1):
            level = {child: [*path, child] for ref, path in level.items() for child in self.children(ref)}
        if level:
            chain = " -> ".join(next(iter(level.values())))
            raise PromptRenderError(f"includes nest deeper than {MAX_INCLUDE_DEPTH}: {chain}")


def render(spec: PromptSpec, variables: Mapping[str, Any], resolve: Resolve) -> RenderedPrompt:
    """Render a prompt with `variables`, resolving includes through `resolve`.

    Raises PromptVariablesError when the variables break the schema, and PromptRenderError when the
    prompt cannot be rendered (undefined variable, sandbox refusal, bad include, cycle, nesting).
    """
    validate_variables(spec.variables, variables)
    partials = _Partials(spec, resolve)
    partials.check()
    templates = spec.templates()
    used: dict[str, str] = {}

    def load(name: str) -> tuple[str, str, Callable[[], bool]]:
        if name in templates:
            return templates[name], name, lambda: True
        included = partials.get(name)
        used[name] = spec_hash(included)
        return included.text or "", name, lambda: True

    env = environment(FunctionLoader(load))
    names = {*templates, *partials.specs}
    out = {where: _render_one(env.get_template(where), dict(variables), names) for where in templates}
    if spec.messages is None:
        return RenderedPrompt(text=out["text"], includes=used)
    messages = [
        {"role": m.role, "content": out[f"messages[{i}].content"]} for i, m in enumerate(spec.messages)
    ]
    return RenderedPrompt(messages=messages, includes=used)


def _render_one(template: Any, variables: dict[str, Any], names: set[str]) -> str:
    try:
        return str(template.render(variables))
    except AifactoryError:
        raise
    except TemplateError as exc:
        raise PromptRenderError(_where(exc, template.name, names) + str(exc.message)) from None
    except RecursionError:
        raise PromptRenderError(f"{template.name}: rendering recursed too deeply") from None
    except Exception as exc:  # an operation on the variables failed (1/0, "a" + 1): the template's fault
        raise PromptRenderError(f"{_where(exc, template.name, names)}{exc} ({type(exc).__name__})") from None


def _where(exc: BaseException, name: str, names: set[str]) -> str:
    found = error_line(exc, names)
    return f"{found[0]} line {found[1]}: " if found else f"{name}: "
