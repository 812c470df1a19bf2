"""The API contract, fuzzed: schemathesis generates valid and invalid requests for every operation in
`/openapi.json` and sends them over real HTTP to a live server (SQLite) as the bootstrap admin.

No request may get a 5xx, and every error response must be RFC 9457 problem+json. The run is
reproducible: a fixed seed, derandomized generation, no example database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from aifactory.bootstrap import initialize
from aifactory.server import create_app
from aifactory.server.openai_errors import OPENAI_PATHS
from aifactory.settings import Settings
from conftest import run_server

PROBLEM_JSON = "application/problem+json"
MAX_EXAMPLES = 100
"""Generated cases per operation and phase: enough to reach the validators, quick on 2 cores."""

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20240501,
        "suppress-health-check": ["all"],
        "generation": {
            "mode": "all",  # valid requests and requests that break the schema
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            "with-security-parameters": False,  # we authenticate as admin ourselves
        },
        "phases": {"stateful": {"enabled": False}},
    }
)

# The schema comes from the app itself, without starting it: building the OpenAPI document reads no
# settings, database or files. Requests go to the live server below, over HTTP.
_OPENAPI: dict[str, Any] = create_app(Settings(data_dir=Path("unused"))).openapi()
schema = schemathesis.openapi.from_dict(_OPENAPI, config=CONFIG).exclude(path="/v1/prompts/events")
"""Every operation but the label event stream, which stays open by design (tests/test_prompts.py)."""

SEED_ASSET = "runbook:seed"
"""An asset the server fixture creates (with version 1), so generated requests also reach past the
404 of an unknown ref into the handlers' real work."""

KNOWN_REFS = {"/v1/assets/": SEED_ASSET, "/v1/principals/": "admin", "/v1/prompts/": "seed"}


@schema.hook
def flatmap_path_parameters(context: schemathesis.HookContext, path_parameters: dict[str, Any]) -> Any:
    """Half the time, point `ref` (and `number`) at things that exist."""
    operation = context.operation
    known = next(
        (
            ref
            for prefix, ref in KNOWN_REFS.items()
            if operation is not None and operation.path.startswith(prefix)
        ),
        None,
    )
    key = "name" if operation is not None and operation.path.startswith("/v1/prompts/") else "ref"
    if known is None or key not in path_parameters:
        return st.just(path_parameters)
    existing = {**path_parameters, key: known}
    if "number" in existing:
        existing["number"] = 1
    return st.sampled_from([path_parameters, existing])


class Server:
    """A live server on a SQLite data dir, and the admin's Authorization header."""

    def __init__(self, url: str, admin_key: str) -> None:
        self.url = url
        self.headers = {"Authorization": f"Bearer {admin_key}"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the whole module: cheaper than one per operation, and state accumulates."""
    data = tmp_path_factory.mktemp("contract")
    settings = Settings(
        data_dir=data / "data",
        database_url=f"sqlite:///{data / 'aifactory.db'}",
        ledger_checkpoint_interval=0.2,
        change_poll_interval=0.1,
    )
    admin_key = initialize(settings).admin_key
    assert admin_key is not None
    uvicorn_server, thread, url = run_server(settings)
    kind, name = SEED_ASSET.split(":")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}) as client:
        client.post("/v1/assets", json={"kind": kind, "name": name}).raise_for_status()
        client.post(f"/v1/assets/{SEED_ASSET}/versions", json={"content": {"seed": 1}}).raise_for_status()
        seed = {
            "text": "Hello {{ who }}",
            "variables": {"type": "object", "properties": {"who": {"type": "string"}}},
        }
        client.post("/v1/prompts", json={"name": "seed", "spec": seed}).raise_for_status()
        client.put("/v1/assets/prompt:seed/labels/staging", json={"version": 1}).raise_for_status()
    try:
        yield Server(url, admin_key)
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=30)


def _check_problem_json(response: Any, case: schemathesis.Case) -> None:
    if response.status_code < 400:
        return
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if case.path in OPENAI_PATHS:  # OpenAI's error shape, so the openai SDK reads our errors
        error = response.json()["error"]
        assert error["message"]
        assert error["type"]
        assert error.get("request_id"), f"no request_id in {error}"
        return
    assert content_type.split(";")[0] == PROBLEM_JSON, (
        f"{case.method} {case.formatted_path} -> {response.status_code} with content type "
        f"{content_type!r}, not {PROBLEM_JSON}: {response.text[:500]}"
    )
    body = response.json()
    assert body["status"] == response.status_code
    assert body.get("request_id"), f"no request_id in {body}"


def test_openapi_document_is_served(server: Server) -> None:
    served = httpx.get(f"{server.url}/openapi.json", timeout=30).json()
    assert served == _OPENAPI
    assert served["openapi"].startswith("3.1")


@schema.parametrize()
def test_no_server_errors(case: schemathesis.Case, server: Server) -> None:
    response = case.call(base_url=server.url, headers=server.headers)
    case.validate_response(response, checks=[not_a_server_error], headers=server.headers)
    _check_problem_json(response, case)
