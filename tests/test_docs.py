"""The docs cover the code: every setting, HTTP route, hook, CLI command, error, role, action and default
policy is documented, and every link between the docs resolves (after datasette's test_docs.py)."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute

from aifactory import errors, hookspecs
from aifactory.identity.actions import ACTIONS
from aifactory.identity.roles import ROLES
from aifactory.server import create_app
from aifactory.server.auth import ACTION_KEY
from aifactory.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DEFAULT_CEDAR = ROOT / "src" / "aifactory" / "identity" / "default.cedar"


def doc(name: str) -> str:
    """The text of one page of docs/."""
    return (DOCS / name).read_text(encoding="utf-8")


# --- settings ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_setting_is_documented(field: str) -> None:
    row = f"| `{field}` | `AIFACTORY_{field.upper()}` |"
    assert row in doc("settings.md"), f"docs/settings.md needs a row starting {row}"


def test_settings_docs_name_only_real_settings() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \| `AIFACTORY_", doc("settings.md"), re.MULTILINE))
    assert documented == set(Settings.model_fields)


def test_every_setting_has_a_description() -> None:
    assert [name for name, field in Settings.model_fields.items() if not field.description] == []


# --- HTTP routes ------------------------------------------------------------------------------------


def _flat_routes(routes: list[BaseRoute]) -> Iterator[Any]:
    """Every route of the app, through included routers (newer FastAPI keeps them nested)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:
        yield from routes
        return
    yield from iter_route_contexts(routes)


def app_routes() -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, openapi_extra) of every HTTP route; HEAD only where GET is absent."""
    app: FastAPI = create_app(Settings(data_dir=Path("unused")))
    found = []
    for route in _flat_routes(app.routes):
        methods = set(getattr(route, "methods", None) or ())
        if "GET" in methods:
            methods.discard("HEAD")
        extra = getattr(route, "openapi_extra", None) or {}
        found += [(method, str(route.path), extra) for method in sorted(methods)]
    return found


ROUTES = app_routes()


def test_the_app_has_routes() -> None:
    assert len(ROUTES) > 20
    assert ("GET", "/v1/ledger/checkpoint") in {(m, p) for m, p, _ in ROUTES}


@pytest.mark.parametrize(("method", "path", "extra"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_route_is_documented(method: str, path: str, extra: dict[str, Any]) -> None:
    lines = [line for line in doc("http.md").splitlines() if line.startswith(f"| `{method} {path}` |")]
    assert len(lines) == 1, f"docs/http.md needs one table row for `{method} {path}`"
    action = extra.get(ACTION_KEY)
    if action is not None:
        assert f"`{action}`" in lines[0], f"docs/http.md: `{method} {path}` is Cedar action {action}"


def test_http_docs_name_only_real_routes() -> None:
    documented = set(re.findall(r"^\| `([A-Z]+) (/\S*)` \|", doc("http.md"), re.MULTILINE))
    assert documented == {(m, p) for m, p, _ in ROUTES}


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [r for r in ROUTES if r[1].startswith("/v1/")],
    ids=[f"{m} {p}" for m, p, _ in ROUTES if p.startswith("/v1/")],
)
def test_v1_route_declares_a_known_cedar_action(method: str, path: str, extra: dict[str, Any]) -> None:
    action = extra.get(ACTION_KEY)
    assert action, f"{method} {path} declares no {ACTION_KEY} in openapi_extra (use auth.governed)"
    assert action in ACTIONS, f"{method} {path} declares unknown action {action!r}"


def test_every_action_belongs_to_a_route() -> None:
    used = {extra.get(ACTION_KEY) for _, _, extra in ROUTES}
    assert sorted(set(ACTIONS) - used) == []


def test_openapi_carries_the_actions() -> None:
    spec = create_app(Settings(data_dir=Path("unused"))).openapi()
    for path, operations in spec["paths"].items():
        if path.startswith("/v1/"):
            for method, operation in operations.items():
                assert operation.get(ACTION_KEY) in ACTIONS, f"{method.upper()} {path}"


# --- hooks ------------------------------------------------------------------------------------------

HOOKSPECS = sorted(name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), "aifactory_spec"))


def test_there_are_hookspecs() -> None:
    assert "aifactory_register_gates" in HOOKSPECS


@pytest.mark.parametrize("hook", HOOKSPECS)
def test_hook_is_documented(hook: str) -> None:
    assert f"## `{hook}`" in doc("hooks.md"), f"docs/hooks.md needs a section ## `{hook}`"
    docstring = getattr(hookspecs, hook).__doc__
    assert docstring, f"{hook} needs a one-line docstring"
    assert "\n" not in docstring.strip(), f"{hook} needs a one-line docstring"


def test_hook_docs_name_only_real_hooks() -> None:
    assert re.findall(r"^## `(\w+)`", doc("hooks.md"), re.MULTILINE) == HOOKSPECS


# --- CLI --------------------------------------------------------------------------------------------


def cli_commands() -> list[str]:
    """Every command path of the typer app, `aifactory <noun> <verb>`."""
    import typer.main

    from aifactory.cli.main import app

    def walk(command: Any, prefix: str) -> Iterator[str]:
        subcommands = getattr(command, "commands", None)
        if not subcommands:
            yield prefix
            return
        for name, sub in sorted(subcommands.items()):
            if not getattr(sub, "hidden", False):
                yield from walk(sub, f"{prefix} {name}")

    return list(walk(typer.main.get_command(app), "aifactory"))


def _cli_exists() -> bool:
    try:
        return importlib.util.find_spec("aifactory.cli.main") is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture
def commands() -> list[str]:
    if not _cli_exists():
        pytest.skip("aifactory.cli.main does not exist yet: the CLI is not written")
    return cli_commands()


def test_every_cli_command_is_documented(commands: list[str]) -> None:
    text = doc("cli.md")
    missing = [command for command in commands if f"### `{command}`" not in text]
    assert missing == [], f"docs/cli.md needs a section ### `<command>` for each of {missing}"


def test_cli_docs_name_only_real_commands(commands: list[str]) -> None:
    documented = re.findall(r"^### `(aifactory[^`]*)`", doc("cli.md"), re.MULTILINE)
    assert sorted(set(documented) - set(commands)) == []


# --- errors, roles, actions, policies ---------------------------------------------------------------

ERRORS = sorted(name for name in errors.__all__ if name.endswith("Error") and name != "AifactoryError")


@pytest.mark.parametrize("name", ERRORS)
def test_error_is_documented_with_its_status(name: str) -> None:
    cls = getattr(errors, name)
    status = errors.status_for(cls("x"))
    rows = [line for line in doc("errors.md").splitlines() if f"`{name}`" in line and line.startswith("|")]
    assert any(f"| {status} |" in row for row in rows), f"docs/errors.md: `{name}` maps to {status}"
    assert re.search(rf"{name}\s+{status}", doc("errors.md")), f"docs/errors.md: the tree shows {name}"


@pytest.mark.parametrize("role", sorted(ROLES))
def test_role_is_documented(role: str) -> None:
    assert f"| `{role}` |" in doc("permissions.md")


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_action_is_documented_with_its_group(action: str) -> None:
    assert f"| `{action}` | {ACTIONS[action].group} |" in doc("permissions.md")


@pytest.mark.parametrize("policy", re.findall(r'@id\("([^"]+)"\)', DEFAULT_CEDAR.read_text(encoding="utf-8")))
def test_default_policy_is_documented(policy: str) -> None:
    assert f"| `{policy}` |" in doc("permissions.md")


# --- links ------------------------------------------------------------------------------------------

PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_relative_links_resolve(page: Path) -> None:
    targets = [t for t in LINK.findall(page.read_text(encoding="utf-8")) if "://" not in t]
    broken = [t for t in targets if not (page.parent / t).resolve().exists()]
    assert broken == [], f"{page.name} links to missing files {broken}"


def test_readme_links_every_doc() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in DOCS.glob("*.md") if f"docs/{p.name}" not in readme]
    assert missing == []


def test_readme_test_command_is_the_ci_script() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash .ci/run" in readme
    assert (ROOT / ".ci" / "run").exists()
