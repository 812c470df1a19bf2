"""Pinning at release: when a label moves to a prompt version, every prompt it includes (and what
those include) is fixed to the content hash it resolves to at that moment. The label then serves
exactly what was approved, even if an included prompt's label moves later."""

from __future__ import annotations

from typing import Any

from aifactory.catalog._load import Lookup
from aifactory.errors import AifactoryError
from aifactory.prompts.refs import PromptRef, parse_ref
from aifactory.prompts.snapshot import KIND
from aifactory.prompts.spec import PromptSpec
from aifactory.prompts.templates import MAX_INCLUDE_DEPTH, find_cycle, includes

__all__ = ["pin", "selector"]


def selector(ref: PromptRef) -> str:
    """The catalog lookup's selector for a ref: the label, `v<number>` or `sha256:<hash>`."""
    if ref.version is not None:
        return f"v{ref.version}"
    if ref.digest is not None:
        return f"sha256:{ref.digest}"
    return str(ref.label)


def pin(content: dict[str, Any], lookup: Lookup) -> tuple[dict[str, str], list[str]]:
    """The content hash each include (transitively) resolves to now, and every problem found."""
    root = PromptSpec.model_validate(content)
    specs: dict[str, PromptSpec] = {}
    pins: dict[str, str] = {}
    problems: list[str] = []

    def children(ref: str) -> set[str]:
        spec = root if ref == "" else specs.get(ref)
        return includes(spec) if spec is not None else set()

    frontier = sorted(includes(root))
    for _depth in range(MAX_INCLUDE_DEPTH + 1):
        found = []
        for ref in frontier:
            if ref in pins or ref in specs:
                continue
            spec, digest, problem = _resolve(ref, lookup)
            if problem is not None:
                problems.append(problem)
                continue
            assert spec is not None
            assert digest is not None
            specs[ref], pins[ref] = spec, digest
            found.extend(sorted(includes(spec)))
        frontier = found
        if not frontier:
            break
    cycle = find_cycle("", children)
    if cycle is not None:
        problems.append(f"include cycle: {' -> '.join(ref or '(this prompt)' for ref in cycle)}")
    elif frontier:
        problems.append(f"includes nest deeper than {MAX_INCLUDE_DEPTH}")
    return pins, problems


def _resolve(ref: str, lookup: Lookup) -> tuple[PromptSpec | None, str | None, str | None]:
    parsed = parse_ref(ref)
    try:
        version = lookup(f"{KIND}:{parsed.name}", selector(parsed))
    except AifactoryError as exc:
        return None, None, f"include {ref}: {exc}"
    spec = PromptSpec.model_validate(version.content)
    if spec.text is None:
        return None, None, f"include {ref}: it is a chat prompt; only text prompts can be included"
    return spec, version.content_hash, None
