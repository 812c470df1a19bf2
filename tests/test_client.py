"""The SDK against a real server on loopback (SQLite and PostgreSQL): records, errors, ledger proofs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import pytest

from aifactory.client import AsyncClient, Client, LedgerEntry
from aifactory.errors import (
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    GateRefusedError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
)
from aifactory.ledger.merkle import MemoryNodes, root, verify_consistency, verify_inclusion
from aifactory.ledger.note import Checkpoint, NoteVerifier
from conftest import LiveServer, free_port

T = TypeVar("T")


def run(live: LiveServer, action: Callable[[AsyncClient], Awaitable[T]], key: str | None = None) -> T:
    """Run `action` with an AsyncClient on the live server, closed afterwards."""

    async def main() -> T:
        async with AsyncClient(live.url, live.admin_key if key is None else key) as client:
            return await action(client)

    return asyncio.run(main())


async def _second_principal_key(admin: AsyncClient, name: str, role: str) -> str:
    await admin.principals.create(name, kind="person", roles=[role])
    return (await admin.keys.create(f"{name}'s key", principal=name)).key


def test_release_flow_needs_a_second_person(live_server: LiveServer) -> None:
    async def flow(admin: AsyncClient) -> None:
        team = await admin.teams.create("ml")
        asset = await admin.assets.create("runbook", "greet", steward_team="ml", description="Say hi")
        assert (asset.kind, asset.steward_team_id, asset.labels) == ("runbook", team.id, {})
        first = await admin.assets.push("runbook:greet", {"template": "hi {name}"}, "first")
        again = await admin.assets.push(asset.id, {"template": "hi {name}"})
        assert (first.number, first.created, again.number, again.created) == (1, True, 1, False)

        with pytest.raises(GateRefusedError) as refused:
            await admin.assets.move_label("runbook:greet", "production", 1)
        assert "approval" in refused.value.extra["unmet"][0]
        assert refused.value.extra["request_id"]
        assert refused.value.detail.startswith("cannot move 'production'")

        rita_key = await _second_principal_key(admin, "rita", "reviewer")
        async with AsyncClient(admin.base_url, rita_key) as rita:
            approval = await rita.assets.approve("runbook:greet", 1, "looks right")
        assert approval.comment == "looks right"
        move = await admin.assets.move_label("runbook:greet", "production", 1, "release")
        assert (move.from_version, move.to_version, move.reason) == (None, 1, "release")
        assert (await admin.assets.get("runbook:greet")).labels == {"production": 1}
        assert [v.number for v in await admin.assets.versions("runbook:greet")] == [1]
        assert (await admin.assets.version("runbook:greet", 1)).content == {"template": "hi {name}"}

        removed = await admin.assets.remove_label("runbook:greet", "production", "pause")
        assert (removed.from_version, removed.to_version) == (1, None)
        assert [m.to_version for m in await admin.assets.history("runbook:greet")] == [1, None]
        reviewed = await admin.assets.review("runbook:greet", comment="still needed")
        assert reviewed.review_by > asset.created_at.date()
        assert [a.name for a in await admin.assets.list(kind="runbook")] == ["greet"]
        assert await admin.assets.list(due=True) == []

    run(live_server, flow)


def test_identity_namespaces(live_server: LiveServer) -> None:
    async def flow(admin: AsyncClient) -> None:
        await admin.teams.create("ops")
        paul = await admin.principals.create("paul", kind="app", roles=["app"], team="ops")
        assert (await admin.principals.get("paul")).id == paul.id
        assert (await admin.principals.get("me")).name == "admin"
        assert {p.name for p in await admin.principals.list()} == {"admin", "aifactory", "paul"}
        assert {t.name for t in await admin.teams.list()} == {"ops", "platform"}
        key = await admin.keys.create("paul's key", principal="paul", expires_in_days=7)
        assert key.key.startswith("aif_")
        assert key.expires_at is not None
        assert [k.id for k in await admin.keys.list("paul")] == [key.id]
        revoked = await admin.keys.revoke(key.id)
        assert revoked.revoked_at is not None

    run(live_server, flow)


def test_problems_map_to_the_error_tree(live_server: LiveServer) -> None:
    async def flow(admin: AsyncClient) -> None:
        app_key = await _second_principal_key(admin, "bot", "app")
        async with AsyncClient(admin.base_url, app_key) as bot:
            with pytest.raises(PermissionDeniedError) as denied:
                await bot.assets.create("runbook", "nope")
        assert denied.value.extra["status"] == 403
        async with AsyncClient(admin.base_url, "aif_000000000000_not-a-real-key-at-all") as stranger:
            with pytest.raises(AuthenticationError):
                await stranger.assets.list()
        with pytest.raises(NotFoundError) as missing:
            await admin.assets.get("runbook:missing")
        assert "runbook:missing" in missing.value.detail
        await admin.assets.create("runbook", "dup")
        with pytest.raises(ConflictError) as duplicate:
            await admin.assets.create("runbook", "dup")
        assert not isinstance(duplicate.value, GateRefusedError)
        with pytest.raises(InvalidInputError) as invalid:
            await admin.principals.create("x", kind="robot", roles=["app"])
        assert invalid.value.extra["errors"][0]["field"] == "kind"

    run(live_server, flow)


def test_an_unreachable_server_is_a_configuration_error() -> None:
    async def flow() -> None:
        async with AsyncClient(f"http://127.0.0.1:{free_port()}", "aif_x") as client:
            await client.teams.list()

    with pytest.raises(ConfigurationError, match=r"cannot reach the aifactory server at http://127\.0\.0\.1"):
        asyncio.run(flow())


def test_defaults_come_from_the_environment(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIFACTORY_URL", live_server.url)
    monkeypatch.setenv("AIFACTORY_API_KEY", live_server.admin_key)
    with Client() as client:
        assert client.base_url == live_server.url
        assert client.principals.get("me").name == "admin"
    monkeypatch.delenv("AIFACTORY_URL")
    with pytest.raises(ConfigurationError, match="AIFACTORY_URL"):
        AsyncClient()


def test_the_sync_client_runs_the_same_calls(live_server: LiveServer) -> None:
    with Client(live_server.url, live_server.admin_key) as client:
        client.assets.create("dataset", "faq")
        version = client.assets.push("dataset:faq", {"rows": 3})
        assert version.created
        assert version.number == 1
        assert [a.name for a in client.assets.list(kind="dataset")] == ["faq"]
        with pytest.raises(GateRefusedError) as refused:
            client.assets.move_label("dataset:faq", "production", 1)
        assert refused.value.extra["unmet"]
        assert "move_label" in dir(client.assets)
        assert client.ledger.verifier_key().startswith(live_server.settings.ledger_origin)


def _signed_checkpoint(client: Client, at_least: int) -> Checkpoint:
    verifier = NoteVerifier.from_verifier_key(client.ledger.verifier_key())
    deadline = time.monotonic() + 10
    while True:
        checkpoint = Checkpoint.parse(verifier.verify(client.ledger.checkpoint()))
        if checkpoint.size >= at_least:
            return checkpoint
        assert time.monotonic() < deadline, f"no checkpoint covering {at_least} entries"
        time.sleep(0.05)


def test_ledger_entries_and_proofs_verify(live_server: LiveServer) -> None:
    with Client(live_server.url, live_server.admin_key) as client:
        for i in range(4):
            client.assets.create("dataset", f"d{i}")
        checkpoint = _signed_checkpoint(client, 7)
        size = checkpoint.size
        entries: list[LedgerEntry] = client.ledger.entries(0, size)
        assert [e.index for e in entries] == list(range(size))
        assert entries[3] == client.ledger.entry(3)
        assert entries[3].event["index"] == 3
        for entry in entries:
            proof = client.ledger.inclusion_proof(entry.index, size)
            verify_inclusion(entry.leaf_hash, entry.index, size, proof, checkpoint.root)
        first = 3
        first_root = root(MemoryNodes.from_leaf_hashes(e.leaf_hash for e in entries[:first]), first)
        proof = client.ledger.consistency_proof(first, size)
        verify_consistency(first, size, first_root, checkpoint.root, proof)
        with pytest.raises(InvalidInputError):
            client.ledger.inclusion_proof(size + 5, size)
        assert client.ledger.entries(size + 10_000) == []


def test_budgets_and_limits_through_the_sync_client(live_server: LiveServer) -> None:
    with Client(live_server.url, live_server.admin_key) as client:
        team = client.teams.create("billing", rpm_limit=30)
        assert (team.rpm_limit, team.tpm_limit) == (30, None)
        assert client.teams.set_limits("billing", tpm_limit=5000).tpm_limit == 5000
        assert client.teams.set_limits(team.id, reset=True).rpm_limit is None
        budget = client.budgets.create(
            "team", "billing", Decimal("12.5"), window="week", timezone="Asia/Tokyo"
        )
        assert (budget.subject, budget.limit_usd, budget.window) == (team.id, Decimal("12.5"), "week")
        assert budget.current.remaining_usd == Decimal("12.5")
        assert client.budgets.get(budget.id).current.window == budget.current.window
        with pytest.raises(ConflictError) as duplicate:
            client.budgets.create("team", team.id, "1", window="week")
        assert duplicate.value.extra["budget_id"] == budget.id
        assert client.budgets.disable(budget.id).disabled_at is not None
        assert [b.id for b in client.budgets.list()] == [budget.id]
        assert client.budgets.create("team", "billing", "1", window="week").id != budget.id
