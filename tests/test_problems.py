"""Bad input over real HTTP: every error is an RFC 9457 problem+json that says what to fix, carries the
request id, and a refused write leaves nothing behind (no row, no ledger entry).

Runs on SQLite and PostgreSQL (the `live_server` fixture follows `database_url`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from aifactory.catalog.records import LABEL_PATTERN
from conftest import LiveServer

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is a problem+json of `status` with a detail and the request id; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert body["request_id"], body
    assert response.headers["x-request-id"] == body["request_id"]
    return body


def fields_of(body: dict[str, Any]) -> set[str]:
    """The fields a validation problem names (`name` in a body, `query.x` or `path.x` elsewhere)."""
    return {error["field"] for error in body["errors"]}


def ledger_size(client: httpx.Client) -> int:
    """The ledger's tree size once sequencing has settled (unchanged for 0.5 s)."""
    deadline = time.monotonic() + 20
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        size = client.get("/v1/ledger/entries", params={"start": 0, "end": 0}).json()["tree_size"]
        if size != last:
            last, stable_since = size, time.monotonic()
        elif time.monotonic() - stable_since >= 0.5:
            return int(size)
        time.sleep(0.05)
    raise AssertionError("the ledger size did not settle within 20 s")


@pytest.fixture
def admin(live_server: LiveServer) -> httpx.Client:
    """The admin's client, with one asset `runbook:greet` at version 1."""
    client = live_server.client()
    assert client.post("/v1/assets", json={"kind": "runbook", "name": "greet"}).status_code == 201
    pushed = client.post("/v1/assets/runbook:greet/versions", json={"content": {"t": "hi"}})
    assert pushed.status_code == 201, pushed.text
    return client


# --- malformed and mistyped bodies ------------------------------------------------------------------


def test_malformed_json_is_400(admin: httpx.Client) -> None:
    response = admin.post(
        "/v1/assets", content=b'{"kind": "runbook", "name": ', headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 400)
    assert "JSON" in body["detail"]


def test_wrong_types_are_422_naming_each_field(admin: httpx.Client) -> None:
    body = assert_problem(admin.post("/v1/assets", json={"kind": 5, "name": ["greet"]}), 422)
    assert {"kind", "name"} <= fields_of(body)
    assert "kind" in body["detail"]


def test_missing_field_is_422_naming_it(admin: httpx.Client) -> None:
    body = assert_problem(admin.post("/v1/assets", json={"kind": "runbook"}), 422)
    assert fields_of(body) == {"name"}


def test_wrong_type_in_label_move_names_version(admin: httpx.Client) -> None:
    response = admin.put("/v1/assets/runbook:greet/labels/staging", json={"version": "latest"})
    assert "version" in fields_of(assert_problem(response, 422))


def test_unknown_field_is_refused(admin: httpx.Client) -> None:
    body = assert_problem(admin.post("/v1/teams", json={"name": "ml", "colour": "red"}), 422)
    assert "colour" in fields_of(body)


def test_body_that_is_not_an_object_is_422(admin: httpx.Client) -> None:
    assert_problem(admin.post("/v1/assets", json=["runbook", "greet"]), 422)


def test_out_of_range_query_is_422(admin: httpx.Client) -> None:
    response = admin.get("/v1/ledger/proofs/inclusion", params={"index": -1, "tree_size": 1})
    assert "query.index" in fields_of(assert_problem(response, 422))


def test_huge_version_number_is_4xx(admin: httpx.Client) -> None:
    response = admin.put("/v1/assets/runbook:greet/labels/staging", json={"version": 2**70})
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


# --- unknown things ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/assets/runbook:nothing"),
        ("GET", "/v1/assets/runbook:greet/versions/99"),
        ("POST", "/v1/assets/runbook:nothing/versions"),
        ("GET", "/v1/principals/nobody"),
        ("POST", "/v1/keys/nokey/revoke"),
        ("GET", "/v1/ledger/entries/999999"),
    ],
)
def test_unknown_ids_are_404(admin: httpx.Client, method: str, path: str) -> None:
    body = {"content": {"t": "x"}} if method == "POST" and path.endswith("versions") else None
    assert_problem(admin.request(method, path, json=body), 404)


def test_unknown_route_is_404_problem(admin: httpx.Client) -> None:
    body = assert_problem(admin.get("/v1/nothing-here"), 404)
    assert "/v1/nothing-here" in body["detail"]


def test_wrong_method_is_405_problem(admin: httpx.Client) -> None:
    assert_problem(admin.delete("/v1/teams"), 405)


def test_no_key_is_401_problem(live_server: LiveServer) -> None:
    response = live_server.client(key="").get("/v1/assets")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_malformed_key_is_401_problem(live_server: LiveServer) -> None:
    assert_problem(live_server.client(key="not-a-key").get("/v1/assets"), 401)


# --- oversize bodies --------------------------------------------------------------------------------


def _oversize(live_server: LiveServer) -> bytes:
    padding = "x" * live_server.settings.max_body_bytes
    return f'{{"kind": "runbook", "name": "big", "description": "{padding}"}}'.encode()


def test_oversize_body_with_content_length_is_413(live_server: LiveServer, admin: httpx.Client) -> None:
    response = admin.post(
        "/v1/assets", content=_oversize(live_server), headers={"content-type": "application/json"}
    )
    body = assert_problem(response, 413)
    assert "AIFACTORY_MAX_BODY_BYTES" in body["detail"]
    assert_problem(admin.get("/v1/assets/runbook:big"), 404)


def test_oversize_chunked_body_without_content_length_is_413(
    live_server: LiveServer, admin: httpx.Client
) -> None:
    payload = _oversize(live_server)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 65536):
            yield payload[start : start + 65536]

    request = admin.build_request(
        "POST", "/v1/assets", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    assert_problem(admin.send(request), 413)
    assert_problem(admin.get("/v1/assets/runbook:big"), 404)


# --- invalid labels and NUL characters --------------------------------------------------------------


@pytest.mark.parametrize("label", ["Production", "prod!", "-x", "a" * 65])
def test_invalid_label_names_the_rule(admin: httpx.Client, label: str) -> None:
    response = admin.put(f"/v1/assets/runbook:greet/labels/{label}", json={"version": 1})
    body = assert_problem(response, 422)
    assert "path.label" in fields_of(body)
    assert LABEL_PATTERN in body["detail"]


def test_nul_in_body_is_refused(admin: httpx.Client) -> None:
    response = admin.post("/v1/assets", json={"kind": "runbook", "name": "nul", "description": "a\x00b"})
    body = assert_problem(response, 422)
    assert "NUL" in body["detail"]
    assert_problem(admin.get("/v1/assets/runbook:nul"), 404)


def test_nul_in_version_content_is_refused(admin: httpx.Client) -> None:
    response = admin.post("/v1/assets/runbook:greet/versions", json={"content": {"k\x00": "v"}})
    assert "NUL" in assert_problem(response, 422)["detail"]


def test_nul_in_path_and_query_is_refused(admin: httpx.Client) -> None:
    assert_problem(admin.get("/v1/assets/runbook:gr%00eet"), 422)
    assert_problem(admin.get("/v1/assets", params={"kind": "pro\x00mpt"}), 422)
    assert_problem(admin.delete("/v1/assets/runbook:greet/labels/staging", params={"reason": "a\x00"}), 422)


# --- request ids ------------------------------------------------------------------------------------


def test_request_id_is_echoed_when_safe(admin: httpx.Client) -> None:
    response = admin.get("/v1/nothing", headers={"x-request-id": "trace-42.a_b"})
    assert assert_problem(response, 404)["request_id"] == "trace-42.a_b"


def test_unsafe_request_id_is_replaced(admin: httpx.Client) -> None:
    response = admin.get("/v1/nothing", headers={"x-request-id": "bad id\twith spaces"})
    assert assert_problem(response, 404)["request_id"] != "bad id\twith spaces"


# --- refused writes leave nothing behind ------------------------------------------------------------


def test_refused_duplicate_leaves_no_ledger_entry(admin: httpx.Client) -> None:
    before = ledger_size(admin)
    body = assert_problem(admin.post("/v1/assets", json={"kind": "runbook", "name": "greet"}), 409)
    assert "greet" in body["detail"]
    assert ledger_size(admin) == before
    assert len(admin.get("/v1/assets", params={"kind": "runbook"}).json()) == 1


def test_refused_promotion_moves_nothing_and_records_only_the_refusal(admin: httpx.Client) -> None:
    before = ledger_size(admin)
    body = assert_problem(admin.put("/v1/assets/runbook:greet/labels/production", json={"version": 1}), 409)
    assert body["unmet"], body
    after = ledger_size(admin)
    new = admin.get("/v1/ledger/entries", params={"start": before, "end": after}).json()["entries"]
    assert [entry["event"]["type"] for entry in new] == ["asset.label_move_refused"]
    assert admin.get("/v1/assets/runbook:greet").json()["labels"] == {}
    assert admin.get("/v1/assets/runbook:greet/history").json() == []


def test_invalid_write_leaves_no_entry(admin: httpx.Client) -> None:
    before = ledger_size(admin)
    assert_problem(
        admin.post("/v1/principals", json={"name": "x", "kind": "person", "roles": ["wizard"]}), 400
    )
    assert_problem(admin.post("/v1/assets", json={"kind": "runbook", "name": "z", "owner": "nobody"}), 400)
    assert ledger_size(admin) == before
    assert_problem(admin.get("/v1/principals/x"), 404)
    assert_problem(admin.get("/v1/assets/runbook:z"), 404)
