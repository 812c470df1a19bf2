"""A small, explicit public surface: every public module's `__all__` is sorted, without duplicates, and
names only things that exist (after httpx's test_exported_members.py)."""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

import pytest

import aifactory

# Alembic's env.py runs migrations when imported: it is a script, not a module.
SCRIPTS = ("aifactory.store.migrations",)


def public_modules() -> list[str]:
    """`aifactory` and every module under it with no `_`-prefixed part in its name."""
    names = ["aifactory"]
    for info in pkgutil.walk_packages(aifactory.__path__, "aifactory.", onerror=lambda _name: None):
        parts = info.name.split(".")[1:]
        if any(part.startswith("_") for part in parts) or info.name.startswith(SCRIPTS):
            continue
        names.append(info.name)
    return sorted(names)


MODULES = public_modules()


def ruff_order(name: str) -> tuple[int, list[int | str]]:
    """The isort-style order of ruff's RUF022: CONSTANTS, then Classes, then the rest; natural sort."""
    if len(name) > 1 and name.upper() == name and any(c.isalpha() for c in name):
        category = 0
    elif name[:1].isupper():
        category = 1
    else:
        category = 2
    natural = [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]
    return category, natural


def load(name: str) -> ModuleType:
    return importlib.import_module(name)


def test_modules_are_found() -> None:
    assert {"aifactory", "aifactory.errors", "aifactory.settings", "aifactory.ledger"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_unique(name: str) -> None:
    exported = getattr(load(name), "__all__", None)
    if exported is None:
        return  # nothing declared, nothing to keep in order
    assert list(exported) == sorted(exported, key=ruff_order), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"


@pytest.mark.parametrize("name", MODULES)
def test_every_exported_name_exists(name: str) -> None:
    module = load(name)
    missing = []
    for member in getattr(module, "__all__", ()):
        try:
            getattr(module, member)
        except (AttributeError, ImportError):
            missing.append(member)
    assert missing == [], f"{name}.__all__ names {missing}, which {name} does not have"


def test_top_level_exports_resolve_lazily() -> None:
    assert aifactory.Settings.__module__ == "aifactory.settings"
    assert {"Client", "AsyncClient", "Settings"} <= set(aifactory.__all__)
