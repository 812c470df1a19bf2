"""Done-when: four server processes share one budget through Redis; 200 concurrent requests never
overspend it, and every refusal is a clear 429."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import create_engine, text

from aifactory.settings import Settings
from aifactory.testing import FakeProvider
from conftest import LiveServer
from gateway_helpers import app_key, deployment, publish, wait_for_route
from test_replicas import replica

LIMIT = Decimal("1.00")


def test_four_replicas_never_overspend_one_budget(settings: Settings, admin_key: str) -> None:
    if not settings.resolved_database_url.startswith("postgresql"):
        pytest.skip("several replicas need PostgreSQL")
    redis_env = {"AIFACTORY_REDIS_URL": "redis://127.0.0.1:6379/0"}
    # a fresh key prefix per run: the budget's counters in Redis start empty
    with FakeProvider() as fake, ExitStack() as stack:
        urls = [stack.enter_context(replica(settings, **redis_env)) for _ in range(4)]
        live = LiveServer(urls[0], admin_key, settings)
        try:
            # $1000 / $2000 per million tokens: each call costs cents, the budget holds dozens
            publish(
                live,
                "deployment",
                "priced",
                deployment(fake.url, prices={"input_per_mtok": "1000", "output_per_mtok": "2000"}),
            )
            publish(live, "route", "budgeted", {"candidates": [{"deployment": "priced"}]})
            key = app_key(live, f"budget-app-{secrets.token_hex(3)}")
            key_id = live.client(key).get("/v1/keys", params={"principal": "me"}).json()[0]["id"]
            created = live.client().post(
                "/v1/budgets",
                json={"scope": "key", "subject": key_id, "limit_usd": str(LIMIT), "window": "day"},
            )
            assert created.status_code == 201, created.text
            for url in urls:
                other = LiveServer(url, admin_key, settings)
                try:
                    wait_for_route(other, key, "budgeted")
                finally:
                    other.close()
            results = _fire(urls, key, 200)
        finally:
            live.close()
    statuses = [status for status, _ in results]
    assert statuses.count(200) > 0
    refusals = [body for status, body in results if status != 200]
    assert refusals, "the budget should run out"
    assert all(status in (200, 429) for status in statuses), statuses
    assert all(body["error"]["code"] == "budget_exceeded" for body in refusals)
    assert all("budget" in body["error"]["message"] for body in refusals)
    engine = create_engine(settings.resolved_database_url)
    with engine.connect() as conn:
        spent = conn.execute(
            text("SELECT COALESCE(SUM(cost_usd), 0) FROM runs WHERE key_id = :k"), {"k": key_id}
        ).scalar_one()
    engine.dispose()
    assert Decimal(spent) <= LIMIT
    assert Decimal(spent) > LIMIT / 2  # it did get used, not refused from the start


def _fire(urls: list[str], key: str, count: int) -> list[tuple[int, dict[str, object]]]:
    def one(n: int) -> tuple[int, dict[str, object]]:
        with httpx.Client(
            base_url=urls[n % len(urls)], timeout=60, headers={"Authorization": f"Bearer {key}"}
        ) as client:
            response = client.post(
                "/v1/chat/completions",
                json={
                    "model": "budgeted",
                    "max_tokens": 10,
                    "messages": [{"role": "user", "content": "a b c d"}],
                },
            )
            return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=50) as pool:
        return list(pool.map(one, range(count)))
