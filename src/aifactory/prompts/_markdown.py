"""The Markdown prompt format: YAML front matter, then a body of `# system` / `# user` /
`# assistant` sections (a chat prompt) or plain text (a text prompt)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aifactory.prompts.spec import PromptSpec

__all__ = ["HEADING", "Body", "MarkdownError", "body_text", "parse_body", "split_front_matter"]

HEADING = re.compile(r"^#{1,2}[ \t]+(system|user|assistant)[ \t]*$", re.IGNORECASE)
"""A role heading: `# user` or `## user` (any case), alone on its line."""


class MarkdownError(ValueError):
    """A problem in the Markdown structure, at a 1-based line of the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Body:
    """What the body holds (`messages` or `text`, or nothing) and the file line of each part."""

    content: dict[str, Any] = field(default_factory=dict)
    lines: dict[tuple[int | str, ...], int] = field(default_factory=dict)


def split_front_matter(text: str) -> tuple[str, str, int]:
    """(front matter, body, file line where the body starts); the file must open with `---`."""
    lines = text.split("\n")
    if lines[0].rstrip() != "---":
        raise MarkdownError(1, "a Markdown prompt starts with YAML front matter between '---' lines")
    for number, line in enumerate(lines[1:], start=1):
        if line.rstrip() == "---":
            # the newline before the closing '---' ends the YAML's last line (and its literal blocks)
            front = "".join(f"{line}\n" for line in lines[1:number])
            return front, "\n".join(lines[number + 1 :]), number + 2
    raise MarkdownError(1, "the front matter is never closed by a '---' line")


def parse_body(body: str, first_line: int) -> Body:
    """The messages (one per role heading) or the text of a body starting at file line `first_line`."""
    lines = body.split("\n")
    heads = [(i, m[1].lower()) for i, line in enumerate(lines) if (m := HEADING.match(line))]
    if not heads:
        text = body.strip("\n")
        start = first_line + len(body) - len(body.lstrip("\n"))
        return Body({"text": text}, {("text",): start}) if text else Body()
    stray = next((i for i, line in enumerate(lines[: heads[0][0]]) if line.strip()), None)
    if stray is not None:
        raise MarkdownError(
            first_line + stray, "text before the first role heading (# system, # user, # assistant)"
        )
    result = Body({"messages": []})
    ends = [i for i, _ in heads[1:]] + [len(lines)]
    for n, ((start, role), end) in enumerate(zip(heads, ends, strict=True)):
        result.content["messages"].append(
            {"role": role, "content": "\n".join(lines[start + 1 : end]).strip("\n")}
        )
        result.lines[("messages", n)] = first_line + start
    return result


def _fits_body(text: str) -> bool:
    """Whether a template survives the body unchanged: no edge newlines, no CR, no role heading line."""
    return (
        text == text.strip("\n") and "\r" not in text and not any(HEADING.match(x) for x in text.split("\n"))
    )


def body_text(spec: PromptSpec) -> str | None:
    """The body that holds the spec's templates, or None when one would not survive it (they then go
    to the front matter)."""
    if spec.messages is None:
        text = spec.text or ""
        return text if text and _fits_body(text) else None
    if not all(_fits_body(m.content) for m in spec.messages):
        return None
    return "\n\n".join(f"# {m.role}\n\n{m.content}" if m.content else f"# {m.role}\n" for m in spec.messages)
