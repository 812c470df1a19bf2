"""Prompt refs: how one prompt names another (`name@label`, `name@v3`, `name@sha256:<hex>`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["REF_FORMS", "PromptRef", "parse_ref"]

REF_FORMS = "name@label, name@v3 or name@sha256:<64 hex digits>"
"""The accepted forms, as error messages spell them."""

_REF = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]{0,199})@"
    r"(?:v(?P<version>[1-9][0-9]{0,17})|sha256:(?P<digest>[0-9a-f]{64})|(?P<label>[a-z][a-z0-9_-]{0,63}))$"
)


@dataclass(frozen=True)
class PromptRef:
    """A parsed ref: a prompt's name and exactly one of a label, a version number or a content hash.

    `v<digits>` is always a version number, so a label spelled like one cannot be included by label.
    """

    name: str
    label: str | None = None
    version: int | None = None
    digest: str | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@v{self.version}"
        if self.digest is not None:
            return f"{self.name}@sha256:{self.digest}"
        return f"{self.name}@{self.label}"


def parse_ref(ref: str) -> PromptRef:
    """Parse a ref; a ValueError says which forms are accepted."""
    match = _REF.match(ref)
    if match is None:
        raise ValueError(f"{ref!r} is not a prompt ref (use {REF_FORMS})")
    version = match["version"]
    return PromptRef(
        match["name"],
        label=match["label"],
        version=int(version) if version else None,
        digest=match["digest"],
    )
