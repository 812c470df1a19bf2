"""Logs never carry an API key: not from the access log, not from an error message."""

from __future__ import annotations

import io
import logging

from aifactory.identity.keys import generate_key
from aifactory.logs import RedactingFilter
from conftest import LiveServer


def test_filter_redacts_keys_in_messages_and_arguments() -> None:
    key = generate_key().full_key
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("presented %s", key)
        logger.warning(f"inline {key}")
    finally:
        logger.removeHandler(handler)
    assert key not in stream.getvalue()
    assert f"aif_{key[4:16]}_***" in stream.getvalue()


def test_server_logs_hold_no_key(live_server: LiveServer) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        stolen = generate_key().full_key
        client = live_server.client(stolen)
        assert client.get("/v1/ledger/checkpoint").status_code == 401
        assert client.post(f"/v1/keys/{stolen}/revoke").status_code in (401, 422)
        created = live_server.client().post("/v1/keys", json={"name": "x"}).json()["key"]
        live_server.client(created).get("/v1/keys?principal=me")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
    text = stream.getvalue()
    assert "/v1/ledger/checkpoint 401" in text  # the access log did run
    for secret in (stolen, created, live_server.admin_key):
        assert secret not in text
