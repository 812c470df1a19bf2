"""Prompt files, to push a prompt from and pull it back to: YAML (`.yaml`, `.yml`) or Markdown
(`.md`) with YAML front matter. `loads(dump(x, f), f) == x` for every prompt and both formats.

Every error is an InvalidInputError naming the file and line: `greet.md line 9: messages[1].content
line 3: unexpected '}'` (the file line where the field starts; then the line inside the template).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aifactory.catalog.records import NAME_PATTERN
from aifactory.errors import InvalidInputError
from aifactory.prompts._markdown import MarkdownError, body_text, parse_body, split_front_matter
from aifactory.prompts._yaml import dump_yaml, ordered
from aifactory.prompts.spec import PromptSpec, describe

__all__ = ["ASSET_FIELDS", "FORMATS", "PromptFile", "PromptFormat", "dump", "format_of", "load", "loads"]

PromptFormat = Literal["yaml", "markdown"]

FORMATS: dict[str, PromptFormat] = {".yaml": "yaml", ".yml": "yaml", ".md": "markdown"}
"""The prompt file format of each file suffix."""

ASSET_FIELDS = ("name", "description", "critical")
"""Top-level keys of a prompt file that describe the asset; every other key is a spec field."""

_Lines = dict[tuple[int | str, ...], int]
_MAX_PROBLEMS = 10


class PromptFile(BaseModel):
    """A prompt as a file holds it: the asset's name, description and criticality, and the spec."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=10_000)
    critical: bool = False
    spec: PromptSpec


def format_of(path: Path | str) -> PromptFormat:
    """The format a file name asks for, by its suffix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InvalidInputError(f"{path}: not a prompt file; use {', '.join(FORMATS)}")
    return FORMATS[suffix]


def load(path: Path | str) -> PromptFile:
    """Read a prompt file, in the format its suffix names."""
    fmt = format_of(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise InvalidInputError(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return loads(text, fmt, str(path))


def loads(text: str, format: PromptFormat, source: str = "<string>") -> PromptFile:
    """Parse the text of a prompt file; `source` names it in errors."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    try:
        if format == "yaml":
            data, lines = _mapping(text, source, first_line=1)
            return _build(data, lines, source)
        if format == "markdown":
            return _markdown(text, source)
    except RecursionError:
        raise InvalidInputError(f"{source}: nested too deeply") from None
    raise InvalidInputError(f"unknown prompt file format {format!r}; use yaml or markdown")


def dump(prompt: PromptFile, format: PromptFormat) -> str:
    """The text of a prompt file in `format`; Markdown puts the templates in the body when they
    survive it unchanged, and in the front matter otherwise."""
    asset: dict[str, Any] = {"name": prompt.name}
    asset |= {"description": prompt.description} if prompt.description else {}
    asset |= {"critical": True} if prompt.critical else {}
    content = prompt.spec.content()
    if format == "yaml":
        return dump_yaml(ordered(asset | content))
    if format != "markdown":
        raise InvalidInputError(f"unknown prompt file format {format!r}; use yaml or markdown")
    body = body_text(prompt.spec)
    if body is not None:
        content = {k: v for k, v in content.items() if k not in ("messages", "text")}
    front = dump_yaml(ordered(asset | content))
    return f"---\n{front}---\n" + ("" if body is None else f"\n{body}\n")


def _markdown(text: str, source: str) -> PromptFile:
    try:
        front, body, body_line = split_front_matter(text)
        parsed = parse_body(body, body_line)
    except MarkdownError as exc:
        raise InvalidInputError(f"{source} line {exc.line}: {exc}") from None
    data, lines = _mapping(front, source, first_line=2)
    held = [key for key in ("messages", "text") if key in data]
    if parsed.content and held:
        line = min(parsed.lines.values())
        raise InvalidInputError(
            f"{source} line {line}: the front matter has {held[0]!r}, so the body must be empty"
        )
    lines.update(parsed.lines)
    return _build(data | parsed.content, lines, source)


def _mapping(text: str, source: str, first_line: int) -> tuple[dict[str, Any], _Lines]:
    """The YAML mapping in `text` and the file line of every key and item in it."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        line = first_line + (exc.problem_mark.line if exc.problem_mark else 0)
        raise InvalidInputError(f"{source} line {line}: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{source}: {exc}") from None
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        raise InvalidInputError(
            f"{source} line {first_line}: expected a mapping (name, messages or text, ...)"
        )
    lines: _Lines = {(): first_line}
    _positions(node, (), first_line, lines, source)
    return data, lines


def _positions(node: yaml.Node, path: tuple[int | str, ...], offset: int, out: _Lines, source: str) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            line = key.start_mark.line + offset
            if key.value in seen:
                raise InvalidInputError(f"{source} line {line}: duplicate key {key.value!r}")
            seen.add(key.value)
            out[(*path, key.value)] = line
            _positions(value, (*path, key.value), offset, out, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            out[(*path, index)] = item.start_mark.line + offset
            _positions(item, (*path, index), offset, out, source)


def _build(data: dict[str, Any], lines: _Lines, source: str) -> PromptFile:
    asset = {key: data[key] for key in ASSET_FIELDS if key in data}
    try:
        spec = PromptSpec.model_validate({k: v for k, v in data.items() if k not in ASSET_FIELDS})
        return PromptFile.model_validate(asset | {"spec": spec})
    except ValidationError as exc:
        problems = [f"{source} line {_line(loc, lines)}: {message}" for loc, message in describe(exc)]
        raise InvalidInputError("; ".join(problems[:_MAX_PROBLEMS]), errors=problems) from None


def _line(loc: tuple[int | str, ...], lines: _Lines) -> int:
    """The line of the deepest part of `loc` that the file shows (the whole document at least)."""
    for size in range(len(loc), -1, -1):
        if loc[:size] in lines:
            return lines[loc[:size]]
    return lines[()]
