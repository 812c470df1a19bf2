"""Pricing: exact Decimal costs from the bundled genai-prices data, overrides, unknown prices."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices.data import providers as bundled
from genai_prices.types import Usage as CatalogUsage
from hypothesis import given, settings
from hypothesis import strategies as st

from aifactory.errors import ConfigurationError, ConflictError, InvalidInputError
from aifactory.gateway.pricing import Price, PriceBook, Rate, UnknownPricePolicy
from aifactory.gateway.specs import DeploymentSpec, Prices
from aifactory.gateway.types import Usage

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def spec(**fields: object) -> DeploymentSpec:
    """A deployment spec as the catalog would hold it."""
    return DeploymentSpec.model_validate(fields)


OPENAI = spec(provider="openai", upstream_model="gpt-4o", base_url="https://api.openai.com/v1")
MINI = spec(provider="openai", upstream_model="gpt-4o-mini", base_url="https://api.openai.com/v1")
HAIKU = spec(provider="anthropic", upstream_model="claude-3-5-haiku-latest")
SONNET = spec(provider="anthropic", upstream_model="claude-sonnet-4-5")
SELF_HOSTED = spec(provider="openai", upstream_model="gpt-4o", base_url="http://127.0.0.1:8000/v1")
LOCAL = spec(provider="local", upstream_model="smollm2-135m-instruct")


def test_openai_and_anthropic_prices_are_exact_decimals() -> None:
    book = PriceBook()
    # gpt-4o: $2.50 in, $10 out per million tokens; gpt-4o-mini $0.15 / $0.60; haiku 3.5 $0.80 / $4.
    assert book.cost(Usage(1000, 500), "gpt", OPENAI, at=NOW) == Decimal("0.0075")
    assert book.cost(Usage(1, 1), "mini", MINI, at=NOW) == Decimal("0.00000075")
    # 185185.05 + 4592592.6 micro-dollars
    assert book.cost(Usage(1234567, 7654321), "mini", MINI, at=NOW) == Decimal("4.77777765")
    assert book.cost(Usage(1000, 500), "haiku", HAIKU, at=NOW) == Decimal("0.0028")
    cost = book.cost(Usage(3, 7), "mini", MINI, at=NOW)
    assert isinstance(cost, Decimal)
    assert cost == Decimal("0.00000465")  # 3 * 0.15e-6 + 7 * 0.6e-6, no float residue


def test_cached_prompt_tokens_are_priced_at_the_cache_rate() -> None:
    book = PriceBook()
    # gpt-4o cache reads cost $1.25 per million: 200 fresh + 800 cached prompt tokens.
    cost = book.cost(Usage(1000, 0), "gpt", OPENAI, cached_tokens=800, at=NOW)
    assert cost == Decimal(200 * 2.5 + 800 * 1.25) / 1_000_000
    # Anthropic cache writes cost more than plain input ($3.75 vs $3 on Sonnet 4.5).
    written = book.cost(Usage(1000, 0), "sonnet", SONNET, cache_write_tokens=1000, at=NOW)
    assert written == Decimal("0.00375")


def test_tiered_prices_switch_for_every_token_once_the_prompt_passes_the_threshold() -> None:
    book = PriceBook()
    below = book.cost(Usage(200_000, 1000), "sonnet", SONNET, at=NOW)
    above = book.cost(Usage(200_001, 1000), "sonnet", SONNET, at=NOW)
    assert below == Decimal("0.6") + Decimal("0.015")  # $3 in, $15 out
    assert above == Decimal("1.200006") + Decimal("0.0225")  # $6 in, $22.50 out, for every token


@pytest.mark.parametrize(
    ("prompt", "completion", "cached", "written"),
    [(1000, 500, 0, 0), (250_000, 1000, 0, 0), (300_000, 2000, 100_000, 50_000), (128_001, 7, 3, 0)],
)
def test_costs_equal_genai_prices_own_calculation_for_every_bundled_model(
    prompt: int, completion: int, cached: int, written: int
) -> None:
    compared = 0
    for provider in bundled:
        for model in provider.models:
            ours = Rate("catalog", model=model).cost(
                Usage(prompt, completion), cached_tokens=cached, cache_write_tokens=written, at=NOW
            )
            if ours is None:  # no token price (free tiers, per-page or per-second models): unknown
                continue
            usage = CatalogUsage(
                input_tokens=prompt,
                output_tokens=completion,
                cache_read_tokens=cached,
                cache_write_tokens=written,
            )
            theirs = model.calc_price(usage, provider, genai_request_timestamp=NOW).total_price
            assert ours == theirs, (provider.id, model.id)
            compared += 1
    assert compared > 1000


def test_overrides_win_in_order() -> None:
    usage = Usage(1_000_000, 1_000_000)
    catalog = PriceBook()
    assert catalog.cost(usage, "gpt", OPENAI) == Decimal("12.5")
    models = {"openai/gpt-4o": Price(Decimal(1), Decimal(2))}
    by_model = PriceBook(models=models)
    assert by_model.cost(usage, "gpt", OPENAI) == Decimal(3)
    own = OPENAI.model_copy(update={"prices": Prices(input_per_mtok=Decimal(3), output_per_mtok=Decimal(4))})
    assert by_model.cost(usage, "gpt", own) == Decimal(7)
    by_name = PriceBook(deployments={"gpt": Price(Decimal(5), Decimal(6))}, models=models)
    assert by_name.cost(usage, "gpt", own) == Decimal(11)
    assert by_name.cost(usage, "other-name", own) == Decimal(7)
    rate = by_name.rate("gpt", own)
    assert rate is not None
    assert rate.source == "override:deployment:gpt"


def test_self_hosted_servers_are_not_priced_as_the_vendor_they_imitate() -> None:
    book = PriceBook()
    assert book.rate("vllm", SELF_HOSTED) is None
    assert book.cost(Usage(10, 10), "vllm", SELF_HOSTED) is None
    azure = spec(
        provider="openai", upstream_model="gpt-4o", base_url="https://example.openai.azure.com/openai"
    )
    assert book.cost(Usage(1000, 500), "azure", azure, at=NOW) == Decimal("0.0075")
    override = PriceBook(models={"openai/gpt-4o": Price(Decimal("0.1"), Decimal("0.2"))})
    assert override.cost(Usage(1_000_000, 0), "vllm", SELF_HOSTED) == Decimal("0.1")


def test_the_local_model_is_free_and_known() -> None:
    book = PriceBook()
    cost = book.cost(Usage(500, 500), "local", LOCAL)
    assert cost == Decimal(0)
    assert book.worst_case(500, 1000, "local", LOCAL) == Decimal(0)


def test_unknown_prices_fail_closed_with_a_fix_in_the_message() -> None:
    policy = UnknownPricePolicy("fail_closed")
    worst = PriceBook().worst_case(100, 100, "vllm", SELF_HOSTED)
    assert worst is None
    with pytest.raises(ConflictError) as caught:
        policy.admit("vllm", SELF_HOSTED, worst)
    message = caught.value.detail
    assert "'vllm'" in message
    assert "openai/gpt-4o" in message
    assert "input_per_mtok" in message
    assert "price override" in message
    assert policy.unpriced_calls == 0
    policy.admit("gpt", OPENAI, Decimal("0.01"))  # known prices pass


def test_unknown_prices_are_flagged_and_counted() -> None:
    policy = UnknownPricePolicy("flag")
    for _ in range(3):
        policy.admit("vllm", SELF_HOSTED, None)
    policy.admit("gpt", OPENAI, Decimal("0.01"))
    assert policy.unpriced_calls == 3
    assert policy.unpriced_by_model() == {"openai/gpt-4o": 3}
    with pytest.raises(ConfigurationError):
        UnknownPricePolicy("ignore")  # type: ignore[arg-type]


def test_models_without_an_output_price_are_unknown_only_when_they_produce_output() -> None:
    embedding = spec(
        provider="openai",
        upstream_model="text-embedding-3-small",
        base_url="https://api.openai.com/v1",
        operation="embeddings",
    )
    book = PriceBook()
    assert book.cost(Usage(1_000_000, 0), "embed", embedding, at=NOW) == Decimal("0.02")
    assert book.worst_case(1000, 0, "embed", embedding, at=NOW) == Decimal("0.00002")
    assert book.cost(Usage(1000, 10), "embed", embedding, at=NOW) is None


@settings(max_examples=300, deadline=None)
@given(
    deployment=st.sampled_from([OPENAI, MINI, HAIKU, SONNET]),
    prompt=st.integers(0, 400_000),
    max_output=st.integers(0, 64_000),
    data=st.data(),
)
def test_the_worst_case_is_never_below_the_actual_cost(
    deployment: DeploymentSpec, prompt: int, max_output: int, data: st.DataObject
) -> None:
    completion = data.draw(st.integers(0, max_output))
    actual_prompt = data.draw(st.integers(0, prompt))
    cached = data.draw(st.integers(0, actual_prompt))
    written = data.draw(st.integers(0, actual_prompt - cached))
    book = PriceBook()
    worst = book.worst_case(prompt, max_output, "d", deployment, at=NOW)
    actual = book.cost(
        Usage(actual_prompt, completion),
        "d",
        deployment,
        cached_tokens=cached,
        cache_write_tokens=written,
        at=NOW,
    )
    assert worst is not None
    assert actual is not None
    assert actual <= worst


def test_fixed_prices_use_their_cache_rates_and_refuse_floats() -> None:
    price = Price.from_mapping({"input_per_mtok": "2", "output_per_mtok": 8, "cache_read_per_mtok": "0.5"})
    rate = Rate("fixed", fixed=price)
    assert rate.cost(Usage(1_000_000, 0), cached_tokens=500_000) == Decimal("1.25")
    assert rate.worst_case(1_000_000, 1_000_000) == Decimal(10)
    with pytest.raises(InvalidInputError, match="decimal string"):
        Price.from_mapping({"input_per_mtok": 2.5, "output_per_mtok": "1"})
    with pytest.raises(InvalidInputError, match="output_per_mtok"):
        Price.from_mapping({"input_per_mtok": "1"})
    with pytest.raises(InvalidInputError, match="unknown price fields"):
        Price.from_mapping({"input_per_mtok": "1", "output_per_mtok": "1", "per_request": "1"})
    with pytest.raises(InvalidInputError, match="non-negative"):
        Price(Decimal(-1), Decimal(1))
    with pytest.raises(InvalidInputError, match="provider/model"):
        PriceBook(models={"gpt-4o": price})


def test_prices_come_from_the_bundled_data_and_nothing_is_fetched() -> None:
    book = PriceBook()
    assert book.cost(Usage(1000, 500), "gpt", OPENAI, at=NOW) == Decimal("0.0075")
    # genai-prices can update itself from GitHub in a background thread; nothing here starts it ...
    assert not any(t.name == "genai_prices:update" for t in threading.enumerate())
    assert genai_prices.update_prices._shared_updater.thread is None
    # ... and even a snapshot set by someone else is not what we read: only the bundled data.
    data_snapshot.set_custom_snapshot(data_snapshot.DataSnapshot(providers=[], from_auto_update=True))
    try:
        assert PriceBook().cost(Usage(1000, 500), "gpt", OPENAI, at=NOW) == Decimal("0.0075")
    finally:
        data_snapshot.set_custom_snapshot(None)
