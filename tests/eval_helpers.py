"""Satisfy the `eval-record` gate, or block the `no-open-incident` gate, in one line.

    pass_eval(admin, "runbook:faq", version["content_hash"])
    open_incident(admin, "runbook:faq", "wrong answers")

`admin` is a live server's admin httpx client. The signing key is fixed (from a constant seed), so
its signer is registered once per server, whichever test asks first.
"""

from __future__ import annotations

from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from aifactory.evals import signing

TEST_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
"""The test runner's signing key (never a real one: its seed is public)."""

TEST_SIGNER = "test-runner"
ZERO_HASH = "0" * 64


def record(asset: str, content_hash: str, verdict: str = "pass", **changes: Any) -> dict[str, Any]:
    """An unsigned eval record of one version, with plausible metrics."""
    body: dict[str, Any] = {
        "asset": asset,
        "content_hash": content_hash,
        "dataset_hash": "d" * 64,
        "scorers": [{"id": "exact-match", "version": "1"}],
        "judge": None,
        "n": 200,
        "metrics": {"accuracy": {"value": 0.93, "low": 0.89, "high": 0.96}},
        "segments": [
            {"name": "de", "n": 50, "metrics": {"accuracy": {"value": 0.9, "low": 0.8, "high": 0.96}}}
        ],
        "gate_hash": "a" * 64,
        "verdict": verdict,
        "started_at": "2026-11-25T10:00:00Z",
        "finished_at": "2026-11-25T10:05:00Z",
        "runner": "ci/test-runner@1",
    }
    return body | changes


def ensure_signer(admin: httpx.Client, key: Ed25519PrivateKey = TEST_KEY, name: str = TEST_SIGNER) -> str:
    """Register `key`'s public key unless it already is; its key id."""
    key_id = signing.key_id(key.public_key())
    listed = admin.get("/v1/eval-signers")
    listed.raise_for_status()
    if key_id not in {s["key_id"] for s in listed.json()}:
        body = {"name": name, "public_key": signing.public_key_text(key.public_key())}
        admin.post("/v1/eval-signers", json=body).raise_for_status()
    return key_id


def submit(
    client: httpx.Client, asset: str, content_hash: str, verdict: str = "pass", **changes: Any
) -> httpx.Response:
    """Sign a record with the test key and submit it (the signer must be registered)."""
    signed = signing.sign(record(asset, content_hash, verdict, **changes), TEST_KEY)
    return client.post("/v1/eval-records", json=signed)


def pass_eval(admin: httpx.Client, asset: str, content_hash: str) -> dict[str, Any]:
    """Register the test signer (once) and submit a passing signed record of this version."""
    ensure_signer(admin)
    response = submit(admin, asset, content_hash)
    assert response.status_code == 201, response.text
    stored: dict[str, Any] = response.json()
    return stored


def open_incident(admin: httpx.Client, asset: str, title: str = "bad answers", severity: str = "high") -> str:
    """Open an incident on an asset; its id."""
    body = {"asset": asset, "title": title, "severity": severity}
    response = admin.post("/v1/incidents", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
