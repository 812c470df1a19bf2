"""Gateway telemetry: Prometheus metrics and OpenTelemetry spans (GenAI semantic conventions).

Spans go through the OpenTelemetry API only: with no SDK configured (the default) they cost next to
nothing and nothing leaves the process. Whoever runs aifactory may install an SDK and exporter.
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode
from prometheus_client import CollectorRegistry, Counter, Histogram

from aifactory.gateway.runs import RunRecord

__all__ = ["GatewayTelemetry"]

_tracer = trace.get_tracer("aifactory.gateway")

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class GatewayTelemetry:
    """Counts and times every gateway call; opens one span per call."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["route", "deployment", "status"]
        self.calls = Counter(
            "aifactory_gateway_calls_total",
            "Gateway calls by route, deployment and outcome (ok, error, refused)",
            labels,
            registry=registry,
        )
        self.latency = Histogram(
            "aifactory_gateway_latency_seconds",
            "Whole-call latency",
            ["route", "deployment"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.ttft = Histogram(
            "aifactory_gateway_time_to_first_token_seconds",
            "Streams: time to the first content token",
            ["route", "deployment"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.tokens = Counter(
            "aifactory_gateway_tokens_total",
            "Tokens by direction",
            ["route", "deployment", "direction"],
            registry=registry,
        )
        self.cost = Counter(
            "aifactory_gateway_cost_usd_total",
            "Spend in USD (known prices only)",
            ["route", "deployment"],
            registry=registry,
        )
        self.unknown_price = Counter(
            "aifactory_gateway_unknown_price_calls_total",
            "Calls whose price is unknown (cost not recorded, never counted as $0)",
            ["route", "deployment"],
            registry=registry,
        )
        self.fallbacks = Counter(
            "aifactory_gateway_fallbacks_total",
            "Moves to another deployment within one call",
            ["route"],
            registry=registry,
        )
        self.attempts = Counter(
            "aifactory_gateway_attempts_total",
            "Attempts on deployments by outcome",
            ["deployment", "outcome"],
            registry=registry,
        )

    def start(self, operation: str, alias: str) -> Span:
        """A span for one call, named per the GenAI conventions (`chat <model>`); `observe` ends it.

        Not made current: a stream's span outlives the request task that opens it."""
        span = _tracer.start_span(f"{operation} {alias}", kind=trace.SpanKind.CLIENT)
        span.set_attribute("gen_ai.operation.name", operation)
        span.set_attribute("gen_ai.request.model", alias)
        return span

    def observe(self, run: RunRecord, span: Span | None = None) -> None:
        """Count a finished call and complete its span."""
        deployment = run.deployment or "none"
        self.calls.labels(run.route, deployment, run.status).inc()
        for attempt in run.attempts:
            self.attempts.labels(attempt["deployment"], attempt["outcome"]).inc()
        fallbacks = _fallbacks(run)
        if fallbacks:
            self.fallbacks.labels(run.route).inc(fallbacks)
        if run.status != "refused" and run.latency_ms is not None:
            self.latency.labels(run.route, deployment).observe(run.latency_ms / 1000)
        if run.ttft_ms is not None:
            self.ttft.labels(run.route, deployment).observe(run.ttft_ms / 1000)
        self.tokens.labels(run.route, deployment, "input").inc(run.prompt_tokens)
        self.tokens.labels(run.route, deployment, "output").inc(run.completion_tokens)
        if run.cost_usd is not None:
            self.cost.labels(run.route, deployment).inc(float(run.cost_usd))
        elif not run.price_known:
            self.unknown_price.labels(run.route, deployment).inc()
        if span is not None:
            _annotate(span, run, fallbacks)
            span.end()


def _fallbacks(run: RunRecord) -> int:
    deployments: list[str] = []
    for attempt in run.attempts:
        if not deployments or deployments[-1] != attempt["deployment"]:
            deployments.append(attempt["deployment"])
    return max(0, len(deployments) - 1)


def _annotate(span: Span, run: RunRecord, fallbacks: int) -> None:
    span.set_attribute("aifactory.run_id", run.id)
    span.set_attribute("aifactory.route", run.route)
    span.set_attribute("aifactory.attempts", len(run.attempts))
    span.set_attribute("aifactory.fallbacks", fallbacks)
    if run.deployment:
        span.set_attribute("aifactory.deployment", run.deployment)
    if run.upstream_model:
        span.set_attribute("gen_ai.response.model", run.upstream_model)
    span.set_attribute("gen_ai.usage.input_tokens", run.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", run.completion_tokens)
    if run.cost_usd is not None:
        span.set_attribute("aifactory.cost_usd", str(run.cost_usd))
    if run.status != "ok":
        span.set_attribute("error.type", run.error_type or run.status)
        span.set_status(Status(StatusCode.ERROR, run.error_type))
