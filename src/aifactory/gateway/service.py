"""The gateway: resolve a route, call its deployments with retries, breakers and fallback, count
the money, and record every call (run record plus ledger entry)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from opentelemetry.trace import Span

from aifactory.catalog import Catalog
from aifactory.errors import (
    AifactoryError,
    ContextWindowExceededError,
    GuardrailViolationError,
    InvalidInputError,
    NotFoundError,
    PolicyDeniedError,
    StoppedError,
    UpstreamError,
    UpstreamTimeoutError,
)
from aifactory.gateway.builtin import ProviderContext
from aifactory.gateway.enforcement import CallPolicy, Enforcement
from aifactory.gateway.payloads import Transcript, chat_payload, embedding_payload, response_output
from aifactory.gateway.provider import Model
from aifactory.gateway.providers._upstream import Transport
from aifactory.gateway.reliability import Breaking, CircuitBreaker, Fallback, LatencyStats, Measured, Retrying
from aifactory.gateway.routing import Constraints, order_candidates, served_candidates
from aifactory.gateway.runs import RunRecord, RunWriter, subject_hash
from aifactory.gateway.snapshot import Snapshot, load_snapshot
from aifactory.gateway.specs import DeploymentSpec, RouteSpec
from aifactory.gateway.spending import Admission, Spending
from aifactory.gateway.telemetry import GatewayTelemetry
from aifactory.gateway.trace import CallTrace, current_trace
from aifactory.gateway.types import (
    ChatRequest,
    ChatResponse,
    Delta,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamEnd,
    StreamEvent,
    Usage,
)
from aifactory.identity.permissions import Subject
from aifactory.ids import new_id
from aifactory.policy.decision import RequestContext
from aifactory.retention.period import RetentionTerm
from aifactory.retention.vault import PayloadVault
from aifactory.settings import Settings
from aifactory.store.db import Database

__all__ = ["CallContext", "Gateway"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallContext:
    """Who is calling and under which governance context."""

    subject: Subject
    key_id: str | None = None
    use_case: str | None = None
    jurisdiction: str | None = None
    surface: str | None = None
    data_subject: str | None = None
    risk_class: str | None = None
    data_categories: frozenset[str] = frozenset()
    purpose: str | None = None
    constraints: Constraints = field(default_factory=Constraints)
    prompt: dict[str, Any] | None = None
    """The prompt version the request was built from (`name`, `version`, `content_hash`, `label`,
    `canary`, `includes`), recorded on the run."""

    def request_context(self, at: datetime) -> RequestContext:
        """What the policy engine decides on."""
        return RequestContext(
            principal=self.subject.id,
            at=at,
            roles=self.subject.roles,
            team=self.subject.team,
            use_case=self.use_case,
            jurisdiction=self.jurisdiction,
            surface=self.surface,
            risk_class=self.risk_class,
            data_categories=self.data_categories,
            purpose=self.purpose,
        )


Factory = Callable[[str, DeploymentSpec, ProviderContext], Model]


@dataclass
class _Canned:
    """A call a kill switch answers with its canned text (recorded, no model called)."""

    run: RunRecord
    policy: CallPolicy


@dataclass
class _Call:
    """One admitted call in flight."""

    run: RunRecord
    route: RouteSpec
    model: Fallback
    admission: Admission
    trace: CallTrace
    span: Span
    policy: CallPolicy


class Gateway:
    """Serves chat and embedding calls over the deployments and routes under the serving label."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        catalog: Catalog,
        factories: dict[str, Factory],
        telemetry: GatewayTelemetry,
        spending: Spending,
        enforcement: Enforcement,
    ) -> None:
        self.settings = settings
        self.telemetry = telemetry
        self.spending = spending
        self.catalog = catalog
        self.factories = factories
        self.latency = LatencyStats()
        self.breakers: dict[str, CircuitBreaker] = {}
        self.payloads = PayloadVault.from_settings(settings, db)
        self.runs = RunWriter(db, batch_size=settings.ledger_batch_size, vault=self.payloads)
        self.http = Transport()
        self.context = ProviderContext(self.http, settings)
        self.snapshot = Snapshot()
        self.enforcement = enforcement
        """Every call is decided, restricted and guarded by the policy layer."""
        self._models: dict[tuple[str, str, str], Model] = {}

    # --- lifecycle --------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Reload deployments and routes from the catalog."""
        self.snapshot = load_snapshot(self.catalog, self.settings.gateway_label)
        self._models.clear()  # rebuilt lazily; breakers and latency stats survive by name

    def start(self) -> None:
        """Start the run writer."""
        self.runs.start()

    async def aclose(self) -> None:
        """Stop the run writer and close upstream connections (and the counters' Redis)."""
        self.runs.stop()
        await self.http.aclose()
        await self.spending.aclose()

    # --- models -----------------------------------------------------------------------------------

    def _deployment_model(self, name: str, route: RouteSpec) -> Model:
        spec = self.snapshot.deployments[name]
        cache_key = (name, spec.model_dump_json(), route.retry.model_dump_json())
        model = self._models.get(cache_key)
        if model is None:
            factory = self.factories.get(spec.provider)
            if factory is None:
                raise InvalidInputError(
                    f"deployment {name} uses provider {spec.provider!r}, which is not "
                    f"installed (installed: {', '.join(sorted(self.factories))})"
                )
            base = Measured(factory(name, spec, self.context), spec.timeout_seconds, self.latency)
            breaker = self._breaker(name, spec)
            model = Breaking(Retrying(base, route.retry), breaker)
            self._models[cache_key] = model
        return model

    def _breaker(self, name: str, spec: DeploymentSpec) -> CircuitBreaker:
        """The deployment's breaker: kept across snapshot reloads unless its settings changed."""
        b = spec.breaker
        settings = (b.window_seconds, b.min_calls, b.failure_ratio, b.cooldown_seconds)
        breaker = self.breakers.get(name)
        if breaker is None or breaker.settings != settings:
            breaker = CircuitBreaker(
                window=b.window_seconds,
                min_calls=b.min_calls,
                threshold=b.failure_ratio,
                cooldown=b.cooldown_seconds,
            )
            self.breakers[name] = breaker
        return breaker

    def route(self, alias: str, operation: str) -> RouteSpec:
        """The route behind an alias, for the given operation."""
        route = self.snapshot.routes.get(alias)
        if route is None:
            known = ", ".join(sorted(self.snapshot.routes)) or "none"
            raise NotFoundError(
                f"no route {alias!r} is served (label {self.settings.gateway_label!r}); routes: {known}"
            )
        if route.operation != operation:
            raise InvalidInputError(f"route {alias!r} serves {route.operation}, not {operation}")
        return route

    def _candidates(
        self, alias: str, operation: str, constraints: Constraints, prompt_floor: int
    ) -> tuple[RouteSpec, list[str]]:
        """The route and the deployments to try, best first (priced ones only when unknown prices
        fail closed; ones whose context window the prompt surely exceeds left out)."""
        route = self.route(alias, operation)
        names = order_candidates(
            route,
            self.snapshot.deployments,
            constraints,
            latency=self.latency,
            price_of=self.spending.blended,
        )
        if not names:
            raise self._none_allowed(route, alias, constraints)
        windows = {n: self.snapshot.deployments[n].context_window for n in names}
        fitting = [n for n in names if (windows[n] or prompt_floor) >= prompt_floor]
        if not fitting:
            largest = max(w or 0 for w in windows.values())
            raise ContextWindowExceededError(
                f"route {alias!r}: the prompt is at least {prompt_floor} tokens, more than the context "
                f"window of any of its deployments (the largest holds {largest})"
            )
        names = fitting
        if self.spending.policy.mode == "fail_closed":
            priced = [n for n in names if self.spending.is_priced(n, self.snapshot.deployments[n])]
            if not priced:
                self.spending.policy.admit(names[0], self.snapshot.deployments[names[0]], None)  # raises
            names = priced
        return route, names

    def _none_allowed(self, route: RouteSpec, alias: str, constraints: Constraints) -> AifactoryError:
        """Why no deployment of the route may take the call: kill switches (503), the policy's
        regions or model tags (403), or the route itself (400)."""
        deployments = self.snapshot.deployments
        served = served_candidates(route, deployments)
        usable = [c.deployment for c in served if deployments[c.deployment].status != "retired"]
        if not usable:
            return InvalidInputError(f"route {alias!r} has no usable deployment (retired or missing)")
        if set(usable) <= constraints.excluded:
            return StoppedError(
                f"route {alias!r}: kill switches take every deployment out of service ({', '.join(usable)})"
            )
        where = ", ".join(f"{n} ({deployments[n].region})" for n in usable)
        return PolicyDeniedError(
            f"route {alias!r}: the policy decision allows regions {_listed(constraints.regions)} and "
            f"model tags {_listed(constraints.allowed_tags)}; no deployment of the route qualifies: {where}"
        )

    # --- calls ------------------------------------------------------------------------------------

    def _run(self, alias: str, operation: str, call: CallContext, stream: bool) -> RunRecord:
        return RunRecord(
            id=new_id("run"),
            principal_id=call.subject.id,
            operation=operation,
            route=alias[:200],
            stream=stream,
            key_id=call.key_id,
            team_id=call.subject.team,
            use_case=call.use_case,
            jurisdiction=call.jurisdiction,
            surface=call.surface,
            risk_class=call.risk_class,
            subject_hash=subject_hash(call.data_subject, self.payloads.keys.subject_secret),
            retention=RetentionTerm.of(self.settings.retention_default_days),
            prompt=call.prompt["name"] if call.prompt else None,
            prompt_version=call.prompt["version"] if call.prompt else None,
            prompt_use=call.prompt,
        )

    def _keep(self, run: RunRecord, payload: dict[str, Any]) -> None:
        """Attach what was sent and received to the run, unless payload capture is off."""
        if self.settings.store_payloads:
            run.payload = payload

    def _policy(self, call: CallContext, run: RunRecord, request: Any) -> CallPolicy:
        """Decide the call and apply the switches in force; the run carries the decision (a deny
        too) into the ledger, and takes its retention."""
        decision = self.enforcement.decide(call.request_context(self._decision_time()))
        run.decision = decision.ledger_fields()
        run.decision_id, run.decision_outcome = decision.id, decision.outcome
        run.obligations = o = decision.obligations
        run.retention = RetentionTerm.of(
            self.settings.retention_default_days, o.retention_min_days, o.retention_max_days
        )
        return self.enforcement.call(decision, call.constraints, call.subject, run.id, request)

    def _located(self, call: CallContext) -> CallContext:
        """The call with `policy_default_jurisdiction` when it names no jurisdiction of its own."""
        default = self.settings.policy_default_jurisdiction
        return call if call.jurisdiction or default is None else replace(call, jurisdiction=default)

    def _decision_time(self) -> datetime:
        """Now, or now's time of day on the rehearsal date `policy_as_of`."""
        now = datetime.now(UTC)
        day = self.settings.policy_as_of
        return now if day is None else now.replace(year=day.year, month=day.month, day=day.day)

    async def _open(
        self,
        run: RunRecord,
        policy: CallPolicy,
        call: CallContext,
        *,
        prompt_tokens: int,
        max_output: int,
        prompt_floor: int = 0,
    ) -> _Call:
        """Plan the call under its policy and admit it (prices, budgets, rate limits)."""
        alias, operation = run.route, run.operation
        route, names = self._candidates(alias, operation, policy.governed.constraints, prompt_floor)
        deployments = self.snapshot.deployments
        model = Fallback(
            [policy.deployment(self._deployment_model(n, route), deployments[n].provider) for n in names]
        )
        admission = await self.spending.admit(
            route,
            [(n, deployments[n]) for n in names],
            prompt_tokens=prompt_tokens,
            max_output_tokens=max_output,
            key_id=call.key_id,
            team_id=call.subject.team,
            use_case=call.use_case,
            cost_ceiling=policy.governed.max_cost,
        )
        span = self.telemetry.start(operation, alias)
        return _Call(run, route, model, admission, CallTrace(), span, policy)

    async def _close(self, c: _Call, usage: Usage, error: Exception | None) -> None:
        """Record what the call did and cost; settle its reservation."""
        run, trace = c.run, c.trace
        run.guard_findings = c.policy.findings()
        run.attempts = [a.as_json() for a in trace.attempts]
        run.deployment = trace.deployment or (trace.attempts[-1].deployment if trace.attempts else None)
        run.upstream_model = trace.upstream_model
        run.latency_ms, run.ttft_ms = trace.elapsed_ms(), trace.ttft_ms()
        run.prompt_tokens, run.completion_tokens = usage.prompt_tokens, usage.completion_tokens
        if error is not None:
            run.status, run.error_type = "error", type(error).__name__
            if isinstance(error, AifactoryError):
                error.extra["run_id"] = run.id
        spec = self.snapshot.deployments.get(run.deployment or "")
        spent = usage.total_tokens > 0
        cost = None
        if spent and spec is not None and run.deployment is not None:
            cost = self.spending.cost(usage, run.deployment, spec, c.admission.at)
        run.cost_usd = cost if spent else Decimal(0)
        run.price_known = cost is not None or not spent
        await self.spending.settle(c.admission, cost, usage, spent=spent)
        self.telemetry.observe(run, c.span)
        await self.runs.record(run, durable=self.settings.gateway_durable_runs)

    def _output_limit(self, request: ChatRequest) -> int:
        route = self.snapshot.routes.get(request.model)
        return request.output_limit(route.default_max_tokens if route else 1024)

    def _bounded(self, request: ChatRequest) -> ChatRequest:
        """The request with the output limit its budget reservation assumed, sent upstream: without
        it an upstream may write past the worst case that was reserved."""
        if request.max_tokens or request.max_completion_tokens:
            return request
        return request.model_copy(update={"max_tokens": self._output_limit(request)})

    async def chat(self, request: ChatRequest, call: CallContext) -> tuple[ChatResponse, RunRecord]:
        """A whole completion through the route named by `request.model`, under its policy."""
        opened = await self._open_chat(request, call, stream=False)
        if isinstance(opened, _Canned):
            return opened.policy.canned_response(), opened.run
        request, c = opened
        token = current_trace.set(c.trace)
        try:
            response = await _within(c.model.complete(request), c.route.timeout_seconds, request.model)
        except UpstreamError as error:
            self._keep(c.run, chat_payload(request, None))
            await self._close(c, Usage(), error)
            raise
        finally:
            current_trace.reset(token)
        try:
            response = await c.policy.response(response)
        except GuardrailViolationError as violation:
            await self._close(c, response.usage, violation)  # the upstream was paid all the same
            raise
        self._keep(c.run, chat_payload(request, response_output(response)))
        await self._close(c, response.usage, None)
        return response, c.run

    async def chat_stream(
        self, request: ChatRequest, call: CallContext
    ) -> tuple[RunRecord, AsyncIterator[StreamEvent]]:
        """A streamed completion under its policy: the run (its id is known at once) and the events,
        held back by the output guard, tool calls decided when complete."""
        opened = await self._open_chat(request, call, stream=True)
        if isinstance(opened, _Canned):
            return opened.run, opened.policy.canned_stream()
        request, c = opened
        return c.run, self._stream(c, request)

    async def _open_chat(
        self, request: ChatRequest, call: CallContext, *, stream: bool
    ) -> tuple[ChatRequest, _Call] | _Canned:
        """The request as it will be sent (restricted, guarded, with its output limit), admitted; or
        a kill switch's canned reply. A refusal is recorded."""
        call = self._located(call)
        run = self._run(request.model, "chat", call, stream)
        try:
            policy = self._policy(call, run, request)
            if policy.canned:
                stopped = StoppedError(f"{policy.restriction.describe()}: answered with its canned text")
                self._refused(run, stopped)  # no model was called
                return _Canned(run, policy)
            request = policy.chat_request(self._bounded(request))
            cap = policy.governed.max_tokens
            if cap is not None and request.output_limit(cap) > cap:
                request = request.model_copy(update={"max_tokens": cap, "max_completion_tokens": None})
            chars, parts = _prompt_size(request)
            c = await self._open(
                run,
                policy,
                call,
                prompt_tokens=_prompt_bound(request, chars, parts),
                max_output=self._output_limit(request),
                prompt_floor=chars // _MOST_CHARS_PER_TOKEN,
            )
        except AifactoryError as error:
            self._refused(run, error)
            raise
        return request, c

    async def _stream(self, c: _Call, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        # Not reset at the end: the stream's first event is pulled in the request's context and
        # the rest in the response task's copy of it, where a reset token is not valid.
        current_trace.set(c.trace)
        usage = Usage()
        sent = 0
        error: Exception | None = None
        transcript = Transcript()
        events = c.policy.stream(c.model.stream(request))  # held back and checked, tool calls decided
        try:
            first = await _within(anext(events), c.route.timeout_seconds, request.model)
            c.trace.first_token_at = c.trace.first_token_at or time.perf_counter()
            sent = 1 if isinstance(first, Delta) and first.has_content else 0
            if isinstance(first, Delta):
                transcript.add(first)
            yield first
            async for event in events:
                if isinstance(event, StreamEnd):
                    usage = event.usage
                else:
                    transcript.add(event)
                    sent += 1 if event.has_content else 0
                yield event
        except StopAsyncIteration:
            pass
        except (UpstreamError, GuardrailViolationError) as failure:
            error = failure
            if not usage.total_tokens and sent:
                # Cut off before the upstream reported usage: count what was sent (one token a
                # chunk, the usual streaming granularity) so the partial call is not free.
                usage = Usage(_prompt_bound(request, *_prompt_size(request)), sent)
            raise
        finally:
            await events.aclose()  # type: ignore[attr-defined]
            self._keep(c.run, chat_payload(request, transcript.output()))
            # Shielded: when the client goes away mid-stream this task is cancelled, and the run
            # must still be recorded and its reservation settled.
            await asyncio.shield(self._close(c, usage, error))

    async def embed(
        self, request: EmbeddingRequest, call: CallContext
    ) -> tuple[EmbeddingResponse, RunRecord]:
        """Embeddings through the route named by `request.model`."""
        call = self._located(call)
        run = self._run(request.model, "embeddings", call, stream=False)
        try:
            policy = self._policy(call, run, request)
            if policy.canned:
                raise StoppedError(f"{policy.restriction.describe()}: embeddings have no canned reply")
            request = policy.embedding_request(request)
            prompt = sum(len(t) for t in request.texts) // 2 + 1
            c = await self._open(run, policy, call, prompt_tokens=prompt, max_output=0)
        except AifactoryError as error:
            self._refused(run, error)
            raise
        token = current_trace.set(c.trace)
        try:
            response = await _within(c.model.embed(request), c.route.timeout_seconds, request.model)
        except UpstreamError as error:
            self._keep(c.run, embedding_payload(request))
            await self._close(c, Usage(), error)
            raise
        finally:
            current_trace.reset(token)
        self._keep(c.run, embedding_payload(request))
        if c.trace.attempts and c.trace.deployment is None:
            c.trace.deployment = c.trace.attempts[-1].deployment
        await self._close(c, response.usage, None)
        return response, c.run

    def refuse(self, alias: str, operation: str, call: CallContext, error: Exception) -> None:
        """Record a call refused before it reached any model (the run and its ledger entry)."""
        self._refused(self._run(alias, operation, call, stream=False), error)

    def _refused(self, run: RunRecord, error: Exception) -> None:
        run.status, run.error_type, run.latency_ms = "refused", type(error).__name__, 0.0
        run.cost_usd = Decimal(0)
        if isinstance(error, AifactoryError):
            error.extra["run_id"] = run.id
        self.telemetry.observe(run)
        self.runs.submit(run)

    def models(self) -> list[dict[str, Any]]:
        """The served routes, as OpenAI's model list."""
        return [
            {"id": alias, "object": "model", "created": 0, "owned_by": "aifactory"}
            for alias in sorted(self.snapshot.routes)
        ]


_PART_TOKENS = 2000
"""Upper bound on the tokens of one non-text content part (an image costs vendors about 1,100-1,600
tokens whatever its size in bytes)."""


def _prompt_size(request: ChatRequest) -> tuple[int, int]:
    """Characters of text in the prompt, and how many parts are not text (images, audio, files)."""
    chars = parts = 0
    for message in request.messages:
        if isinstance(message.content, str):
            chars += len(message.content)
            continue
        for part in message.content or []:
            text = part.get("text") if part.get("type") == "text" else None
            if isinstance(text, str):
                chars += len(text)
            else:
                parts += 1
    return chars, parts


def _prompt_bound(request: ChatRequest, chars: int, parts: int) -> int:
    """An upper bound on the prompt's tokens, from its `_prompt_size`: tokenizers average three to
    four characters a token, rarely under two; plus a few tokens of chat framing per message and a
    bound per image."""
    return chars // 2 + 8 * len(request.messages) + _PART_TOKENS * parts + 1


_MOST_CHARS_PER_TOKEN = 10
"""For a lower bound on the prompt's tokens (its text characters divided by this), to refuse prompts
that cannot fit a context window before paying for the attempt: text averages three to four
characters a token; ten is beyond what a real prompt packs (only long runs of one repeated character
do). Images count nothing."""


async def _within(call: Any, seconds: float, alias: str) -> Any:
    """Await `call` within the whole-request deadline."""
    try:
        return await asyncio.wait_for(call, seconds)
    except TimeoutError:
        raise UpstreamTimeoutError(
            f"route {alias}: no answer within the {seconds:g}s request deadline"
        ) from None


def _listed(names: frozenset[str] | None) -> str:
    return "(any)" if names is None else "{" + ", ".join(sorted(names)) + "}"
