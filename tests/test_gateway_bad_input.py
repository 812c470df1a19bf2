"""Bad input on the OpenAI-compatible routes: OpenAI's error shape with a message a person can act
on, nothing sent upstream, and a ledger entry for every refused call whose caller is known."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, module_server, publish, wait_for_route

ROUTE = "chat-small"
WINDOW = 50
"""Context window (tokens) of the route's only deployment."""


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, fake: FakeProvider) -> Iterator[LiveServer]:
    with module_server(tmp_path_factory, "bad-input") as server:
        publish(server, "deployment", "small", deployment(fake.url, context_window=WINDOW))
        publish(server, "route", ROUTE, {"candidates": [{"deployment": "small"}]})
        yield server


@pytest.fixture(scope="module")
def key(live: LiveServer) -> str:
    key = app_key(live)
    wait_for_route(live, key, ROUTE)
    return key


def post(live: LiveServer, key: str | None, body: Any, path: str = "/v1/chat/completions") -> httpx.Response:
    headers = {} if key is None else {"authorization": f"Bearer {key}"}
    content = body if isinstance(body, bytes) else None
    payload = None if isinstance(body, bytes) else body
    return httpx.post(f"{live.url}{path}", headers=headers, content=content, json=payload, timeout=30)


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    return dict(error)


def refused_entries(live: LiveServer, error_type: str, count: int) -> list[dict[str, Any]]:
    """The ledger's `run.refused` events of `error_type`, once there are at least `count`."""
    found: list[dict[str, Any]] = []
    for _ in range(100):
        entries = live.client().get("/v1/ledger/entries", params={"start": 0, "end": 1000}).json()["entries"]
        found = [
            e["event"]
            for e in entries
            if e["event"]["type"] == "run.refused" and e["event"]["data"]["error_type"] == error_type
        ]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{count} refused {error_type} calls never reached the ledger (saw {len(found)})")


def hello(**extra: Any) -> dict[str, Any]:
    return {"model": ROUTE, "messages": [{"role": "user", "content": "hello"}]} | extra


def weather_tool(parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "weather", "parameters": parameters}}


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{not json", "not valid JSON"),
        ({"model": ROUTE}, "messages"),
        ({"model": ROUTE, "messages": []}, "messages"),
        ({"model": ROUTE, "messages": [{"role": "robot", "content": "x"}]}, "role"),
        (hello(temperature=7), "temperature"),
        (hello(tools=[{"function": {"name": "f"}}]), "tools[0].type is required"),
        (hello(tools=[{"type": "function", "function": {"name": "no spaces"}}]), "tools[0].function.name"),
        (hello(tools=[weather_tool({"type": "array"})]), '"type": "object"'),
        (
            hello(tools=[weather_tool({"type": "object", "properties": {"city": {"type": "town"}}})]),
            "tools[0].function.parameters is not a valid JSON Schema at properties/city/type",
        ),
        (
            {"model": ROUTE, "messages": [{"role": "tool", "content": "sunny"}]},
            "messages[0] has role tool but no tool_call_id",
        ),
    ],
)
def test_malformed_requests_are_refused_naming_the_problem(
    live: LiveServer, key: str, fake: FakeProvider, body: Any, says: str
) -> None:
    before = len(fake.calls)
    error = error_of(post(live, key, body), 400)
    assert error["type"] == "invalid_request_error"
    assert says in error["message"]
    assert len(fake.calls) == before  # nothing reached the upstream


def test_malformed_requests_from_a_known_caller_are_in_the_ledger(live: LiveServer, key: str) -> None:
    before = len(refused_entries(live, "RequestValidationError", 0))
    post(live, key, {"model": ROUTE, "messages": "not a list"})
    refused = refused_entries(live, "RequestValidationError", before + 1)
    assert refused[-1]["data"]["route"] == ROUTE


def test_a_prompt_beyond_every_context_window_is_refused_before_any_attempt(
    live: LiveServer, key: str, fake: FakeProvider
) -> None:
    before = len(fake.calls)
    long = " ".join(["word"] * WINDOW * 4)  # at least ten characters a token would still be too many
    error = error_of(post(live, key, hello(messages=[{"role": "user", "content": long}])), 400)
    assert error["code"] == "context_length_exceeded"
    assert f"the largest holds {WINDOW}" in error["message"]
    assert len(fake.calls) == before
    assert refused_entries(live, "ContextWindowExceededError", 1)


def test_unknown_route_and_missing_key(live: LiveServer, key: str) -> None:
    unknown = error_of(post(live, key, hello(model="nope")), 404)
    assert "no route 'nope'" in unknown["message"]
    anonymous = error_of(post(live, None, hello()), 401)
    assert anonymous["type"] == "authentication_error"
    wrong_scheme = httpx.post(
        f"{live.url}/v1/chat/completions", headers={"authorization": f"Basic {key}"}, json=hello(), timeout=30
    )
    assert error_of(wrong_scheme, 401)["message"].startswith("send an API key")


def test_a_route_the_key_may_not_use_is_refused_and_recorded(live: LiveServer) -> None:
    admin = live.client()
    admin.post(
        "/v1/principals", json={"name": "reader", "kind": "app", "roles": ["auditor"]}
    ).raise_for_status()
    reader = admin.post("/v1/keys", json={"name": "reader", "principal": "reader"}).json()["key"]
    for _ in range(100):  # the new key reaches the server through the change feed
        response = post(live, reader, hello())
        if response.status_code != 401:
            break
        time.sleep(0.05)
    error = error_of(response, 403)
    assert error["type"] == "permission_error"
    assert refused_entries(live, "PermissionDeniedError", 1)[-1]["data"]["route"] == ROUTE


def test_an_oversized_body_is_a_413_in_openai_shape(live: LiveServer, key: str) -> None:
    limit = live.settings.max_body_bytes
    huge = hello(messages=[{"role": "user", "content": "x" * (limit + 10)}])
    error = error_of(post(live, key, huge), 413)
    assert "AIFACTORY_MAX_BODY_BYTES" in error["message"]


def test_embeddings_refuse_bad_input_too(live: LiveServer, key: str) -> None:
    error = error_of(post(live, key, {"model": "embeddings-x", "input": []}, path="/v1/embeddings"), 400)
    assert "input" in error["message"]


def test_a_run_of_someone_else_reads_as_missing(live: LiveServer, key: str) -> None:
    run_id = post(live, key, hello()).headers["x-aifactory-run-id"]
    other = live.client(app_key(live, name="gw-other"))
    for _ in range(100):  # the new key reaches the server through the change feed
        theirs = other.get(f"/v1/runs/{run_id}")
        if theirs.status_code != 401:
            break
        time.sleep(0.05)
    missing = other.get("/v1/runs/run_" + "0" * 32)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"] == f"no run {run_id!r} that you may read"
    assert live.client(key).get(f"/v1/runs/{run_id}").status_code == 200


def test_an_image_counts_as_an_image_not_as_its_bytes(live: LiveServer, key: str) -> None:
    # The context-window check reads text only: a data URL's base64 is no prompt text.
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 4000}}
    content = [{"type": "text", "text": "what is this"}, image]
    response = post(live, key, hello(messages=[{"role": "user", "content": content}]))
    assert response.status_code == 200, response.text
