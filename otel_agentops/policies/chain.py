"""The policy chain: retry > circuit breaker > rate limit around each attempt, then fallback models.

The chain is written once, as a generator that yields what it needs done (`Send` the request, `Sleep`) and
receives the outcome; a sync and an async driver carry those out. So retries, breaker and limiter logic
exist in one copy for both worlds, and tests can drive it with a fake clock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import Meter

from otel_agentops.config.policies import PolicySet, PolicySettings
from otel_agentops.genai import semconv
from otel_agentops.genai.errors import error_type
from otel_agentops.policies import clock as _clock
from otel_agentops.policies import state
from otel_agentops.policies.breaker import CircuitBreaker, State
from otel_agentops.policies.classify import is_transient
from otel_agentops.policies.errors import CircuitOpenError, RateLimitExceeded
from otel_agentops.policies.ratelimit import RateLimiter, Reservation
from otel_agentops.policies.retry import RetryPolicy

if TYPE_CHECKING:
    from otel_agentops.genai.call import GenAICall


class Send:
    __slots__ = ("kwargs",)

    def __init__(self, kwargs: dict[str, Any]) -> None:
        self.kwargs = kwargs


class Sleep:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Failed:
    """What the driver sends back when the request raised."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


Plan = Generator[Send | Sleep, Any, Any]


class PolicyChain:
    def __init__(self, settings: PolicySettings, meter: Meter) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._breakers: dict[str, CircuitBreaker] = {}
        self._limiters: dict[str, RateLimiter] = {}
        self._retries: dict[int, RetryPolicy] = {}
        self._retry_attempts = meter.create_counter(
            semconv.METRIC_RETRY_ATTEMPTS, unit="{retry}", description="Retries made by the retry policy"
        )
        self._breaker_state = meter.create_gauge(
            semconv.METRIC_BREAKER_STATE, unit="1", description="0 closed, 1 open, 2 half-open"
        )
        self._breaker_transitions = meter.create_counter(
            semconv.METRIC_BREAKER_TRANSITIONS,
            unit="{transition}",
            description="Circuit breaker state changes",
        )
        self._rate_waits = meter.create_histogram(
            semconv.METRIC_RATE_LIMIT_WAIT,
            unit="s",
            description="Waits imposed by the client-side rate limit",
        )
        self._rate_rejections = meter.create_counter(
            semconv.METRIC_RATE_LIMIT_REJECTIONS, unit="{call}", description="Calls refused by the rate limit"
        )
        self._fallbacks = meter.create_counter(
            semconv.METRIC_FALLBACKS, unit="{call}", description="Calls sent to a fallback model"
        )

    def wants_sdk_retries_off(self, call: GenAICall, kwargs: Mapping[str, Any]) -> bool:
        """With our retry on, the SDK's own retries would multiply with it: the budget must be ours alone."""
        return self.settings.resolve(call.provider, kwargs.get("model")).retry.enabled

    # ------------------------------------------------------------ drivers

    def run_sync(self, call: GenAICall, send: Callable[[dict[str, Any]], Any], kwargs: dict[str, Any]) -> Any:
        plan = self.plan(call, kwargs)
        try:
            action = next(plan)
            while True:
                if type(action) is Sleep:
                    _clock.CLOCK.sleep(action.seconds)
                    action = plan.send(None)
                    continue
                try:
                    result = send(action.kwargs)
                except BaseException as exc:
                    action = plan.send(Failed(exc))
                else:
                    action = plan.send(result)
        except StopIteration as done:
            return done.value

    async def run_async(
        self, call: GenAICall, send: Callable[[dict[str, Any]], Awaitable[Any]], kwargs: dict[str, Any]
    ) -> Any:
        plan = self.plan(call, kwargs)
        try:
            action = next(plan)
            while True:
                if type(action) is Sleep:
                    await _clock.CLOCK.asleep(action.seconds)
                    action = plan.send(None)
                    continue
                try:
                    result = await send(action.kwargs)
                except BaseException as exc:
                    action = plan.send(Failed(exc))
                else:
                    action = plan.send(result)
        except StopIteration as done:
            return done.value

    # ------------------------------------------------------------ the plan

    def plan(self, call: GenAICall, kwargs: dict[str, Any]) -> Plan:
        requested = kwargs.get("model")
        models = (requested, *self.settings.fallbacks.get(requested, ())) if requested else (requested,)
        span = call.span
        for index, model in enumerate(models):
            if index:
                kwargs = {**kwargs, "model": model}
                self._fallbacks.add(
                    1, {semconv.PROVIDER_NAME: call.provider, semconv.REQUEST_MODEL: requested}
                )
            try:
                result = yield from self._attempts(
                    call, self.settings.resolve(call.provider, model), model, kwargs
                )
            except Exception as exc:
                last = index == len(models) - 1
                if last or not (isinstance(exc, (CircuitOpenError, RateLimitExceeded)) or is_transient(exc)):
                    raise
                span.add_event(
                    "agentops.fallback",
                    {
                        "agentops.fallback.from": model,
                        "agentops.fallback.to": models[index + 1],
                        semconv.ERROR_TYPE: error_type(exc),
                    },
                )
                continue
            if index:
                call.set_attribute(semconv.FALLBACK_MODEL, model)
            return result
        raise AssertionError("unreachable: the last model either returns or raises")

    def _attempts(
        self, call: GenAICall, policies: PolicySet, model: str | None, kwargs: dict[str, Any]
    ) -> Plan:
        retry = self._retry(policies) if policies.retry.enabled else None
        breaker = self._breaker(call, model, policies) if policies.circuit_breaker.enabled else None
        limiter = self._limiter(call, model, policies) if policies.rate_limit.enabled else None
        span = call.span
        clock = _clock.CLOCK
        attempt = 0
        while True:
            attempt += 1
            probe = False
            if breaker is not None:
                try:
                    probe = breaker.before_call(clock.monotonic())
                except CircuitOpenError as exc:
                    span.add_event(
                        "agentops.circuit_breaker.rejected",
                        {semconv.POLICY_KEY: exc.key, "agentops.circuit_breaker.retry_in": exc.retry_in},
                    )
                    raise
            reservation = None
            if limiter is not None:
                reservation = self._reserve(call, limiter, kwargs, span)
                if reservation.wait > 0:
                    yield Sleep(reservation.wait)
                if not reservation.tracks_tokens:
                    reservation = None
            outcome = yield Send(kwargs)
            if type(outcome) is not Failed:
                if breaker is not None:
                    breaker.on_success(probe)
                if reservation is not None:
                    call.on_end(_settle_tokens(reservation))
                if retry is not None:
                    call.set_attribute(semconv.RETRY_ATTEMPTS, attempt)
                return outcome
            error = outcome.error
            transient = is_transient(error)
            if breaker is not None:
                breaker.on_failure(transient, probe, clock.monotonic())
            if retry is None or not transient or attempt >= retry.max_attempts:
                if retry is not None:
                    call.set_attribute(semconv.RETRY_ATTEMPTS, attempt)
                raise error
            delay = retry.delay(attempt, error, clock.wall())
            kind = error_type(error)
            span.add_event(
                "agentops.retry",
                {"agentops.retry.attempt": attempt, "agentops.retry.delay": delay, semconv.ERROR_TYPE: kind},
            )
            self._retry_attempts.add(
                1,
                {
                    semconv.PROVIDER_NAME: call.provider,
                    semconv.REQUEST_MODEL: model or "",
                    semconv.ERROR_TYPE: kind,
                },
            )
            yield Sleep(delay)

    def _reserve(
        self, call: GenAICall, limiter: RateLimiter, kwargs: Mapping[str, Any], span: Any
    ) -> Reservation:
        labels = {semconv.POLICY_KEY: limiter.key}
        try:
            tokens = estimate_tokens(kwargs) if limiter.counts_tokens else 0
            reservation = limiter.acquire(tokens, _clock.CLOCK.monotonic())
        except RateLimitExceeded as exc:
            self._rate_rejections.add(1, labels)
            span.add_event(
                "agentops.rate_limit.rejected",
                {semconv.POLICY_KEY: exc.key, "agentops.rate_limit.wait": exc.wait},
            )
            raise
        if reservation.wait > 0:
            self._rate_waits.record(reservation.wait, labels)
            span.add_event(
                "agentops.rate_limit.wait",
                {semconv.POLICY_KEY: limiter.key, "agentops.rate_limit.wait": reservation.wait},
            )
        return reservation

    # ------------------------------------------------------------ per-key state

    def _retry(self, policies: PolicySet) -> RetryPolicy:
        retry = self._retries.get(id(policies.retry))
        if retry is None:
            retry = self._retries[id(policies.retry)] = RetryPolicy(policies.retry)
        return retry

    def _breaker(self, call: GenAICall, model: str | None, policies: PolicySet) -> CircuitBreaker:
        attributes = call.metric_attributes
        endpoint = f"{attributes.get(semconv.SERVER_ADDRESS, '')}:{attributes.get(semconv.SERVER_PORT, '')}"
        key = f"{call.provider}|{endpoint}|{model}"
        breaker = self._breakers.get(key)
        if breaker is None:
            with self._lock:
                breaker = self._breakers.get(key)
                if breaker is None:
                    breaker = self._breakers[key] = state.circuit_breaker(
                        key, policies.circuit_breaker, self._transition
                    )
                    self._breaker_state.set(int(State.CLOSED), {semconv.POLICY_KEY: key})
        return breaker

    def _limiter(self, call: GenAICall, model: str | None, policies: PolicySet) -> RateLimiter:
        key = f"{call.provider}|{model}"
        limiter = self._limiters.get(key)
        if limiter is None:
            with self._lock:
                limiter = self._limiters.get(key)
                if limiter is None:
                    limiter = self._limiters[key] = state.rate_limiter(key, policies.rate_limit)
        return limiter

    def _transition(self, key: str, old: State, new: State) -> None:
        labels = {semconv.POLICY_KEY: key}
        self._breaker_state.set(int(new), labels)
        self._breaker_transitions.add(
            1,
            {
                **labels,
                "agentops.circuit_breaker.from": old.name.lower(),
                "agentops.circuit_breaker.to": new.name.lower(),
            },
        )

    def breaker_state(self, key_prefix: str) -> dict[str, State]:
        """Current states by key (for tests and diagnostics)."""
        return {key: breaker.state for key, breaker in self._breakers.items() if key.startswith(key_prefix)}


def _settle_tokens(reservation: Reservation) -> Callable[[GenAICall], None]:
    def settle(call: GenAICall) -> None:
        if call.input_tokens is not None or call.output_tokens is not None:
            reservation.settle((call.input_tokens or 0) + (call.output_tokens or 0))

    return settle


_CHARS_PER_TOKEN = 4


def estimate_tokens(kwargs: Mapping[str, Any]) -> int:
    """A cheap, generous estimate before the call: prompt characters / 4 plus the output budget."""
    chars = 0
    for key in ("messages", "input", "system", "instructions", "prompt"):
        value = kwargs.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            chars += len(value)
            continue
        for item in value if isinstance(value, (list, tuple)) else (value,):
            content = item.get("content") if isinstance(item, dict) else item
            # The common case, a chat message with plain text, without walking the whole structure.
            chars += len(content) if isinstance(content, str) else _chars(item)
    budget = 0
    for key in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        value = kwargs.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            budget = value
            break
    return math.ceil(chars / _CHARS_PER_TOKEN) + budget


def _chars(value: Any) -> int:
    """Characters of every string inside a nested request structure (content blocks, tool calls...)."""
    chars = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            chars += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return chars
