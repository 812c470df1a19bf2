"""Reliability as composition: each wrapper takes a model and returns a model.

    Fallback(Breaking(Retrying(Measured(deployment model))), ...)

`Measured` times each attempt (and enforces the per-attempt deadline), `Retrying` retries retryable
errors with exponential backoff and full jitter honouring Retry-After, `Breaking` stops calling a
deployment whose recent calls mostly failed (half-open probes let it recover), and `Fallback` moves
to the next candidate. Streams fall over only before the first content token has been sent.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from aifactory.errors import (
    ContextWindowExceededError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from aifactory.gateway.provider import Model
from aifactory.gateway.specs import RetrySpec
from aifactory.gateway.trace import Attempt, current_trace
from aifactory.gateway.types import (
    ChatRequest,
    ChatResponse,
    Delta,
    EmbeddingRequest,
    EmbeddingResponse,
    StreamEvent,
)

__all__ = ["Breaking", "CircuitBreaker", "Fallback", "LatencyStats", "Measured", "Retrying", "next_within"]

T = TypeVar("T")


async def next_within(stream: AsyncIterator[T], seconds: float, what: str) -> T:
    """The stream's next item, or UpstreamTimeoutError after `seconds` (StopAsyncIteration at the end)."""
    try:
        return await asyncio.wait_for(anext(stream), seconds)
    except TimeoutError:
        raise UpstreamTimeoutError(f"{what}: nothing within {seconds:g}s") from None


class LatencyStats:
    """An exponentially weighted moving average of each deployment's successful latency."""

    def __init__(self, alpha: float = 0.3) -> None:
        self.alpha = alpha
        self._ewma: dict[str, float] = {}

    def observe(self, deployment: str, latency_ms: float) -> None:
        """Fold in one successful call's latency."""
        old = self._ewma.get(deployment)
        self._ewma[deployment] = latency_ms if old is None else old + self.alpha * (latency_ms - old)

    def get(self, deployment: str) -> float | None:
        """The current average, or None before the first success."""
        return self._ewma.get(deployment)


class Measured:
    """Times each call to one deployment, records it in the call trace, enforces its deadline."""

    def __init__(self, model: Model, timeout: float, stats: LatencyStats) -> None:
        self.inner = model
        self.name = model.name
        self.timeout = timeout
        self.stats = stats

    def _record(self, started: float, error: UpstreamError | None) -> None:
        latency = (time.perf_counter() - started) * 1000
        if error is None:
            self.stats.observe(self.name, latency)
        trace = current_trace.get()
        if trace is not None:
            outcome = "ok" if error is None else type(error).__name__
            trace.attempts.append(Attempt(self.name, outcome, latency, getattr(error, "retry_after", None)))

    async def _timed(self, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        try:
            result = await asyncio.wait_for(call, self.timeout)
        except TimeoutError:
            error = UpstreamTimeoutError(
                f"{self.name}: no answer within {self.timeout:g}s", deployment=self.name
            )
            self._record(started, error)
            raise error from None
        except UpstreamError as error:
            self._record(started, error)
            raise
        self._record(started, None)
        return result

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A whole completion within the deadline."""
        response = await self._timed(self.inner.complete(request))
        trace = current_trace.get()
        if trace is not None:
            trace.deployment, trace.upstream_model = self.name, response.upstream_model or None
        return response

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings within the deadline."""
        return await self._timed(self.inner.embed(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The stream; the deadline covers the first event and each gap between events."""
        started = time.perf_counter()
        events = self.inner.stream(request)
        try:
            while True:
                try:
                    event = await next_within(events, self.timeout, self.name)
                except StopAsyncIteration:
                    break
                except UpstreamError as error:
                    if error.deployment is None:
                        error.deployment = self.name
                    self._record(started, error)
                    raise
                yield event
        finally:
            await events.aclose()  # type: ignore[attr-defined]
        self._record(started, None)
        trace = current_trace.get()
        if trace is not None:
            trace.deployment = self.name


class Retrying:
    """Retries retryable errors on the same model with exponential backoff, full jitter and
    Retry-After; a stream is retried only if it failed before yielding anything."""

    def __init__(
        self,
        model: Model,
        spec: RetrySpec,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.inner = model
        self.name = model.name
        self.spec = spec
        self.sleep = sleep
        self.rng = rng

    def _delay(self, attempt: int, error: UpstreamError) -> float | None:
        """Seconds to wait before the next attempt, or None to give up now."""
        if not error.retryable or attempt >= self.spec.max_attempts:
            return None
        retry_after: float | None = getattr(error, "retry_after", None)
        if retry_after is not None:
            # The upstream said when: waiting longer than we may wait means falling over instead.
            return retry_after if retry_after <= self.spec.max_delay_seconds else None
        ceiling = min(self.spec.max_delay_seconds, self.spec.base_delay_seconds * 2.0 ** (attempt - 1))
        return ceiling * self.rng()

    async def _retry(self, call: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            try:
                return await call()
            except UpstreamError as error:
                delay = self._delay(attempt, error)
                if delay is None:
                    raise
            await self.sleep(delay)
            attempt += 1

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A completion, retried."""
        return await self._retry(lambda: self.inner.complete(request))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings, retried."""
        return await self._retry(lambda: self.inner.embed(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The stream, retried while nothing has been yielded yet."""
        attempt = 1
        while True:
            yielded = False
            try:
                async for event in self.inner.stream(request):
                    yielded = True
                    yield event
                return
            except UpstreamError as error:
                delay = None if yielded else self._delay(attempt, error)
                if delay is None:
                    raise
            await self.sleep(delay)
            attempt += 1


class CircuitBreaker:
    """Per-deployment breaker over a rolling window of outcomes.

    Closed: calls pass. Opens when, within `window` seconds, at least `min_calls` calls were made and
    the failure ratio reached `threshold`. Open: calls fail fast for `cooldown` seconds. Then
    half-open: one probe at a time; a success closes it, a failure opens it again.
    """

    def __init__(
        self,
        *,
        window: float = 30,
        min_calls: int = 5,
        threshold: float = 0.5,
        cooldown: float = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window, self.min_calls, self.threshold, self.cooldown = window, min_calls, threshold, cooldown
        self.settings = (window, min_calls, threshold, cooldown)
        self.clock = clock
        self._outcomes: deque[tuple[float, bool]] = deque()
        self._failures = 0  # among _outcomes, kept as they come and go
        self._opened_at: float | None = None
        self._probing = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        """closed, open or half_open."""
        if self._opened_at is None:
            return "closed"
        return "open" if self.clock() - self._opened_at < self.cooldown else "half_open"

    def allow(self) -> bool:
        """Whether a call may go through now (claims the probe when half-open)."""
        with self._lock:
            state = self.state
            if state == "closed":
                return True
            if state == "half_open" and not self._probing:
                self._probing = True
                return True
            return False

    def record(self, ok: bool) -> None:
        """Record a call's outcome."""
        now = self.clock()
        with self._lock:
            if self._opened_at is not None:
                self._probing = False
                self._opened_at = None if ok else now
                self._outcomes.clear()
                self._failures = 0
                return
            self._outcomes.append((now, ok))
            self._failures += not ok
            while self._outcomes[0][0] < now - self.window:
                self._failures -= not self._outcomes.popleft()[1]
            calls = len(self._outcomes)
            if calls >= self.min_calls and self._failures / calls >= self.threshold:
                self._opened_at = now


class Breaking:
    """Fails fast while the deployment's circuit breaker is open."""

    def __init__(self, model: Model, breaker: CircuitBreaker) -> None:
        self.inner = model
        self.name = model.name
        self.breaker = breaker

    def _check(self) -> None:
        if not self.breaker.allow():
            raise UpstreamUnavailableError(
                f"{self.name}: circuit breaker open after repeated failures", deployment=self.name
            )

    def _outcome(self, error: UpstreamError | None) -> None:
        # Only failures that say something about the upstream's health count.
        self.breaker.record(error is None or not error.retryable)

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        self._check()
        try:
            result = await call()
        except UpstreamError as error:
            self._outcome(error)
            raise
        self._outcome(None)
        return result

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """A completion, unless the circuit is open."""
        return await self._guarded(lambda: self.inner.complete(request))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """Embeddings, unless the circuit is open."""
        return await self._guarded(lambda: self.inner.embed(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The stream, unless the circuit is open."""
        self._check()
        try:
            async for event in self.inner.stream(request):
                yield event
        except UpstreamError as error:
            self._outcome(error)
            raise
        self._outcome(None)


def _falls_over(error: UpstreamError) -> bool:
    """Whether another candidate might succeed where this one failed: not when the request itself
    is at fault (malformed, or refused by a content filter), which would fail everywhere."""
    return error.retryable or isinstance(error, ContextWindowExceededError | UpstreamAuthError)


class Fallback:
    """Tries candidates in order until one answers. Streams commit to a candidate at its first
    content token: a failure before it falls over invisibly; after it, the error reaches the caller."""

    def __init__(self, models: Sequence[Model]) -> None:
        if not models:
            raise ValueError("Fallback needs at least one model")
        self.models = list(models)
        self.name = "+".join(m.name for m in self.models)

    async def _first(self, call: Callable[[Model], Awaitable[T]]) -> T:
        last: UpstreamError | None = None
        for model in self.models:
            try:
                return await call(model)
            except UpstreamError as error:
                if not _falls_over(error):
                    raise
                last = error
        assert last is not None
        raise last

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """The first candidate's completion that succeeds."""
        return await self._first(lambda model: model.complete(request))

    async def embed(self, request: EmbeddingRequest) -> EmbeddingResponse:
        """The first candidate's embeddings that succeed."""
        return await self._first(lambda model: model.embed(request))

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """The first candidate's stream that reaches content; later failures are the caller's."""
        last: UpstreamError | None = None
        for model in self.models:
            held: list[StreamEvent] = []
            committed = False
            try:
                async for event in model.stream(request):
                    if committed:
                        yield event
                        continue
                    held.append(event)
                    if not (isinstance(event, Delta) and event.has_content):
                        continue
                    committed = True
                    for early in held:
                        yield early
                if not committed:
                    for early in held:  # a stream with no content at all (e.g. an empty answer)
                        yield early
                return
            except UpstreamError as error:
                if committed or not _falls_over(error):
                    raise
                last = error
        assert last is not None
        raise last
