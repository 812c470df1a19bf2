"""Reading pack files: YAML in, a validated `PackSpec` and its JSON-ready content out, or an error
that names the line of the YAML where the problem is (from the YAML nodes' marks)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from aifactory.errors import InvalidInputError
from aifactory.policy.packs import PackSpec

__all__ = ["as_content", "line_of", "load_pack_file", "parse_pack"]


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text: pydantic parses them, so a bad date gets its line."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_pack_file(path: Path | str) -> tuple[PackSpec, dict[str, Any]]:
    """A pack file's validated spec and its JSON-ready content (what the catalog stores)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc
    return parse_pack(text, str(path))


def parse_pack(text: str, where: str = "pack") -> tuple[PackSpec, dict[str, Any]]:
    """Validate a pack's YAML text; InvalidInputError names `where`, the line and the reason."""
    try:
        root = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise InvalidInputError(f"{where} is not valid YAML: {exc}") from exc
    if root is None or not isinstance(data, dict):
        raise InvalidInputError(f"{where} must hold one mapping (a policy pack)")
    content = as_content(data)
    try:
        return PackSpec.model_validate(content), content
    except ValidationError as exc:
        problems = [
            {"line": line_of(root, e["loc"]), "field": _dotted(e["loc"]), "message": _message(e["msg"])}
            for e in exc.errors()[:20]
        ]
        detail = "; ".join(f"{where} line {p['line']}: {p['field']}: {p['message']}" for p in problems)
        raise InvalidInputError(f"invalid policy pack: {detail}", problems=problems) from None


def as_content(value: Any) -> Any:
    """YAML values made JSON-ready: dates (YAML parses them) become ISO strings."""
    if isinstance(value, dict):
        return {str(k): as_content(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_content(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def line_of(root: yaml.Node, loc: Sequence[int | str]) -> int:
    """The 1-based line of the deepest YAML node on a pydantic error location's path.

    Location parts that are not in the document (union member names such as `date`) are skipped;
    an error about a nested mapping or list points at the line of its key."""
    node, line = root, root.start_mark.line
    for part in loc:
        found = _child(node, part)
        if found is not None:
            key, node = found
            at_key = key is not None and not isinstance(node, yaml.ScalarNode)
            line = (key if at_key and key is not None else node).start_mark.line
    return int(line) + 1


def _child(node: yaml.Node, part: int | str) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return key, value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return None, node.value[part]
    return None


def _dotted(loc: Sequence[int | str]) -> str:
    return ".".join(map(str, loc)) or "pack"


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")
