"""The policy chain around one SDK call, outermost first:

cache (a hit answers without a request) > model routing (alias -> tier's model) > fallback models >
per attempt: load balancing (which endpoint) > circuit breaker > rate limit > send > retry.

The cache sits outside everything else because a hit costs nothing: no rate-limit slot, no breaker
verdict. Routing comes before fallback so a fallback chain is the routed model's own.

The per-attempt part is written once, as a generator that yields what it needs done (`Send` the request,
`Sleep`) and receives the outcome; a sync and an async driver carry those out. So retries, breaker and
limiter logic exist in one copy for both worlds, and tests can drive it with a fake clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.metrics import Meter

from otel_agentops.config.policies import PolicySet, PolicySettings, RetrySettings
from otel_agentops.config.scaling import ScalingSettings
from otel_agentops.genai import semconv
from otel_agentops.genai.errors import error_type
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.policies import clock as _clock
from otel_agentops.policies import state
from otel_agentops.policies.balancing import Balancer, Endpoint
from otel_agentops.policies.batching import EmbeddingBatcher
from otel_agentops.policies.breaker import Breaker, State
from otel_agentops.policies.cache import MISS, STATEFUL_ARGUMENTS, ResponseCache, client_identity, request_key
from otel_agentops.policies.classify import is_transient
from otel_agentops.policies.errors import CircuitOpenError, RateLimitExceeded
from otel_agentops.policies.estimate import estimate_tokens
from otel_agentops.policies.ratelimit import Limiter, Slot
from otel_agentops.policies.rebind import client_of, sdk_retries_on, with_client_options, without_sdk_retries
from otel_agentops.policies.retry import RetryPolicy
from otel_agentops.policies.routing import Router

if TYPE_CHECKING:
    from otel_agentops.genai.call import GenAICall
    from otel_agentops.genai.telemetry import Telemetry
    from otel_agentops.genai.wrapping import Operation
    from otel_agentops.policies.balancing import _Group


class Send:
    __slots__ = ("endpoint", "kwargs")

    def __init__(self, kwargs: dict[str, Any], endpoint: Endpoint | None = None) -> None:
        self.kwargs = kwargs
        self.endpoint = endpoint


class Sleep:
    __slots__ = ("seconds",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds


class Failed:
    """What the driver sends back when the request raised."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class _Resolved:
    """The policies of one (provider, model) and the per-key objects they use, found once: every call
    needs them, and resolving the layers, keys and locks anew each time costs more than the policies do."""

    __slots__ = ("breakers", "counts_tokens", "limiter", "policies", "rate_limited", "retry", "use_breaker")

    def __init__(self, policies: PolicySet, retry: RetryPolicy | None) -> None:
        self.policies = policies
        self.retry = retry
        self.use_breaker = policies.circuit_breaker.enabled
        self.rate_limited = policies.rate_limit.enabled
        # Filled on first use, as the chain's own maps are: both name the same objects as those maps.
        self.limiter: Limiter | None = None
        self.counts_tokens = False  # the limiter's, fixed when it is made
        self.breakers: dict[tuple[Any, Any], Breaker] = {}


# Distinct (provider, model) pairs remembered; beyond it the memo starts over (it only mirrors state the
# chain keeps elsewhere, so forgetting costs a lookup, not a breaker's or limiter's history).
RESOLVED_MEMO = 1024

Plan = Generator[Send | Sleep, Any, Any]
# The latency a failed attempt counts as for least_latency (seconds).
FAILURE_LATENCY = 5.0
# Whether our retry owns the requested model's budget, and the SDK method its attempts go through.
FirstTarget = tuple[bool, Callable[..., Any]]


class Request:
    """The SDK call the chain runs: the wrapped method, the resource it is bound to, its arguments; and,
    for a call that may join a batch, how to start and finish the batch request's own telemetry.

    `opener` is for SDK helpers that return before sending (Anthropic's `messages.stream()` manager sends
    on enter): each attempt then builds the helper anew with the SDK method and passes it to `opener`,
    which sends it (enters it) and returns the attempt's result, an awaitable of it in the async driver.
    So a failure to send is the attempt's own, and is retried, counted by the breaker, or falls back."""

    __slots__ = ("args", "fell_back", "instance", "kwargs", "opener", "operation", "telemetry", "wrapped")

    def __init__(
        self,
        wrapped: Callable[..., Any],
        instance: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        operation: Operation | None = None,
        telemetry: Telemetry | None = None,
        opener: Callable[[Any], Any] | None = None,
    ) -> None:
        self.wrapped = wrapped
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.operation = operation
        self.telemetry = telemetry
        self.opener = opener
        # Answered by a fallback model: not cached, so the requested model answers once it is back.
        self.fell_back = False

    @property
    def method(self) -> str:
        cls = type(self.instance)
        return f"{cls.__module__}.{cls.__qualname__}.{getattr(self.wrapped, '__name__', '')}"

    @property
    def base_url(self) -> str | None:
        client = client_of(self.instance)
        return None if client is None else str(getattr(client, "base_url", "")) or None


def _served_from_cache(call: GenAICall) -> None:
    """A response served from the cache consumed no tokens and cost nothing, whatever usage the stored
    answer shows."""
    call.input_tokens = call.output_tokens = call.reasoning_tokens = None
    call.cache_read_tokens = call.cache_write_tokens = 0
    call.set_attribute(semconv.USAGE_COST, 0.0)


class PolicyChain:
    def __init__(
        self, settings: PolicySettings, meter: Meter, scaling: ScalingSettings | None = None
    ) -> None:
        self.settings = settings
        scaling = scaling or ScalingSettings()
        self.scaling = scaling
        self._cache = _make_cache(scaling) if scaling.cache.enabled else None  # None: unusable URL
        self._router = Router(scaling.routing) if scaling.routing.enabled else None
        self._balancer = Balancer(scaling.balancing) if scaling.balancing.enabled else None
        self._batcher = (
            EmbeddingBatcher(scaling.batching, self._drive_async, meter) if scaling.batching.enabled else None
        )
        state.bind_meter(meter)
        self._retry_configured = settings.retry_configured
        # Until when (monotonic) an endpoint's breaker is known to reject: balancing skips it meanwhile.
        self._open_until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._breakers: dict[str, Breaker] = {}
        self._limiters: dict[str, Limiter] = {}
        self._retries: dict[RetrySettings, RetryPolicy] = {}
        self._memo: dict[tuple[str, str | None], _Resolved] = {}
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
        self._cache_hits = meter.create_counter(
            semconv.METRIC_CACHE_HITS, unit="{call}", description="Calls answered from the response cache"
        )
        self._cache_misses = meter.create_counter(
            semconv.METRIC_CACHE_MISSES, unit="{call}", description="Cacheable calls sent to the provider"
        )
        self._cache_bypasses = meter.create_counter(
            semconv.METRIC_CACHE_BYPASSES,
            unit="{call}",
            description="Calls the response cache skips (streams, arguments with no canonical form)",
        )
        self._routed = meter.create_counter(
            semconv.METRIC_ROUTED_CALLS,
            unit="{call}",
            description="Calls routed from an alias to a tier's model",
        )
        self._balanced = meter.create_counter(
            semconv.METRIC_BALANCED_REQUESTS,
            unit="{request}",
            description="Requests sent to each load-balanced endpoint",
        )

    def wants_sdk_retries_off(self, call: GenAICall, kwargs: Mapping[str, Any]) -> bool:
        """With our retry on, the SDK's own retries would multiply with it: the budget must be ours alone."""
        return self._resolved(call.provider, kwargs.get("model")).retry is not None

    # ------------------------------------------------------------ drivers

    def run_sync(self, call: GenAICall, request: Request) -> Any:
        key = None
        if self._cache is not None:
            key, hit = self._lookup(call, request)
            if hit is not MISS:
                return hit
        result = self._drive_sync(call, request)
        if key is not None and not request.fell_back:
            self._cache_put(key, result)
        return result

    async def run_async(self, call: GenAICall, request: Request) -> Any:
        key = None
        if self._cache is not None:
            key, hit = self._lookup(call, request)
            if hit is not MISS:
                return hit
        batch = None
        if self._batcher is not None:
            try:
                batch = self._batcher.key(call, request)
            except Exception as exc:
                report_internal_error("batching", exc)
        if batch is not None:
            assert self._batcher is not None
            result = await self._batcher.submit(call, request, batch)
        else:
            result = await self._drive_async(call, request)
        if key is not None and not request.fell_back:
            self._cache_put(key, result)
        return result

    def _drive_sync(self, call: GenAICall, request: Request) -> Any:
        first = self._first_target(call, request)
        plan = self.plan(call, request)
        send = self._send if request.opener is None else self._send_and_open
        try:
            action = next(plan)
            while True:
                if type(action) is Sleep:
                    _clock.CLOCK.sleep(action.seconds)
                    action = plan.send(None)
                    continue
                try:
                    result = send(call, request, first, action)
                except BaseException as exc:
                    action = plan.send(Failed(exc))
                else:
                    action = plan.send(result)
        except StopIteration as done:
            return done.value

    async def _drive_async(self, call: GenAICall, request: Request) -> Any:
        first = self._first_target(call, request)
        plan = self.plan(call, request)
        send = self._send if request.opener is None else self._send_and_open
        try:
            action = next(plan)
            while True:
                if type(action) is Sleep:
                    await _clock.CLOCK.asleep(action.seconds)
                    action = plan.send(None)
                    continue
                try:
                    result = await send(call, request, first, action)
                except BaseException as exc:
                    action = plan.send(Failed(exc))
                else:
                    action = plan.send(result)
        except StopIteration as done:
            return done.value

    def _first_target(self, call: GenAICall, request: Request) -> FirstTarget | None:
        """For the requested model: whether our retry policy owns its budget, and the SDK method its
        attempts to the client's own endpoint go through (its twin without SDK retries when so). Worked
        out once per call rather than per attempt, and before anything is sent. None when no attempt
        needs telling apart (no retry configured anywhere, no balancing)."""
        if not self._retry_configured and self._balancer is None:
            return None
        wrapped = request.wrapped
        off = (
            self._retry_configured
            and self._resolved(call.provider, request.kwargs.get("model")).retry is not None
        )
        return off, without_sdk_retries(wrapped, request.instance) if off else wrapped

    def _send(self, call: GenAICall, request: Request, first: FirstTarget | None, action: Send) -> Any:
        """One attempt (possibly with another model, to another endpoint): the SDK method, with the SDK's
        own retries switched off when our retry policy owns the budget for the model this attempt goes to
        (routing and fallback can change it). A method, not a closure made per call: cheaper."""
        wrapped, args, kwargs = request.wrapped, request.args, action.kwargs
        if first is None:
            return wrapped(*args, **kwargs)
        first_off, quiet = first
        model = kwargs.get("model")
        is_first = model == request.kwargs.get("model")
        off = first_off if is_first else self.wants_sdk_retries_off(call, kwargs)
        rewrite = None if request.operation is None else request.operation.no_sdk_retries
        if off and rewrite is not None:
            kwargs = rewrite(kwargs)
        instance, endpoint = request.instance, action.endpoint
        if endpoint is None:
            if is_first:
                return quiet(*args, **kwargs)
            target = without_sdk_retries(wrapped, instance) if off else wrapped
            return target(*args, **kwargs)
        options: dict[str, Any] = {"base_url": endpoint.url}
        if off and sdk_retries_on(instance):
            options["max_retries"] = 0
        return with_client_options(wrapped, instance, **options)(*args, **kwargs)

    def _send_and_open(
        self, call: GenAICall, request: Request, first: FirstTarget | None, action: Send
    ) -> Any:
        """One attempt of a helper that sends later: a fresh helper for this attempt's model, endpoint and
        SDK retries, sent by the request's opener (whose result the async driver awaits)."""
        assert request.opener is not None
        return request.opener(self._send(call, request, first, action))

    # ------------------------------------------------------------ cache

    def _lookup(self, call: GenAICall, request: Request) -> tuple[str | None, Any]:
        """The request's cache key (None: not cached) and the stored response, or MISS."""
        key = self._cache_key(call, request)
        return key, MISS if key is None else self._cache_get(call, key)

    def _cache_key(self, call: GenAICall, request: Request) -> str | None:
        reason = None
        # Streams: `stream=True`, or an operation whose begin already set up stream accounting (Gemini's
        # generate_content_stream has no `stream` argument).
        kwargs = request.kwargs
        if kwargs.get("stream") is True or call.stream_state is not None:
            reason = "stream"
        elif any(kwargs.get(name) for name in STATEFUL_ARGUMENTS):
            reason = "stateful"
        else:
            try:
                key = request_key(
                    call.provider, request.method, request.args, kwargs, client_identity(request.instance)
                )
            except Exception as exc:
                report_internal_error("computing the cache key", exc)
                key = None
            if key is not None:
                return key
            reason = "uncanonical_arguments"
        call.set_attribute(semconv.CACHE_BYPASS, reason)
        self._cache_bypasses.add(1, {**call.metric_attributes, semconv.CACHE_BYPASS: reason})
        return None

    def _cache_get(self, call: GenAICall, key: str) -> Any:
        assert self._cache is not None
        try:
            hit = self._cache.get(key)
        except Exception as exc:
            report_internal_error("reading the response cache", exc)
            hit = MISS
        call.set_attribute(semconv.CACHE_HIT, hit is not MISS)
        if hit is MISS:
            self._cache_misses.add(1, call.metric_attributes)
        else:
            self._cache_hits.add(1, call.metric_attributes)
            call.policy_finish = _served_from_cache
        return hit

    def _cache_put(self, key: str, result: Any) -> None:
        assert self._cache is not None
        try:
            self._cache.put(key, result)
        except Exception as exc:
            report_internal_error("writing the response cache", exc)

    # ------------------------------------------------------------ the plan

    def plan(self, call: GenAICall, request: Request) -> Plan:
        kwargs = request.kwargs
        requested = kwargs.get("model")
        if self._router is not None:
            try:
                route = self._router.route(requested, kwargs)
            except Exception as exc:
                report_internal_error("model routing", exc)
                route = None
            if route is not None:
                kwargs = {**kwargs, "model": route.model}
                call.set_attribute(semconv.ROUTING_REQUESTED_MODEL, requested)
                call.set_attribute(semconv.ROUTING_MODEL, route.model)
                call.set_attribute(semconv.ROUTING_TIER, route.tier)
                call.set_attribute(semconv.ROUTING_ESTIMATED_TOKENS, route.estimated_tokens)
                self._routed.add(
                    1,
                    {
                        semconv.PROVIDER_NAME: call.provider,
                        semconv.ROUTING_REQUESTED_MODEL: requested,
                        semconv.ROUTING_MODEL: route.model,
                        semconv.ROUTING_TIER: route.tier,
                    },
                )
                requested = route.model
        group = None
        if self._balancer is not None:
            base_url = request.base_url
            group = None if base_url is None else self._balancer.group_for(base_url)
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
                    call, self._resolved(call.provider, model), model, kwargs, group
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
                request.fell_back = True
            return result
        raise AssertionError("unreachable: the last model either returns or raises")

    def _attempts(
        self,
        call: GenAICall,
        resolved: _Resolved,
        model: str | None,
        kwargs: dict[str, Any],
        group: _Group | None = None,
    ) -> Plan:
        policies = resolved.policies
        retry = resolved.retry
        use_breaker = resolved.use_breaker
        limiter = None
        counts_tokens = False
        if resolved.rate_limited:
            limiter = resolved.limiter
            if limiter is None:
                limiter = self._limiter(call, model, policies)
                # Before `limiter`: a thread that finds the limiter set must find this set too.
                resolved.counts_tokens = limiter.counts_tokens
                resolved.limiter = limiter
            counts_tokens = resolved.counts_tokens
        span = call.span
        clock = _clock.CLOCK
        attempt = 0
        breaker = None if group is not None or not use_breaker else self._breaker_of(call, model, resolved)
        while True:
            attempt += 1
            endpoint = None
            if group is not None:
                endpoint = self._choose_endpoint(call, group, model)
                if use_breaker:
                    breaker = self._breaker_of(call, model, resolved)
            probe = False
            if breaker is not None:
                try:
                    probe = breaker.before_call(clock.monotonic())
                except CircuitOpenError as exc:
                    self._open_until[exc.key] = clock.monotonic() + exc.retry_in
                    span.add_event(
                        "agentops.circuit_breaker.rejected",
                        {semconv.POLICY_KEY: exc.key, "agentops.circuit_breaker.retry_in": exc.retry_in},
                    )
                    raise
            reservation = None
            if limiter is not None:
                reservation = self._reserve(call, limiter, counts_tokens, kwargs, span)
                if reservation.wait > 0:
                    yield Sleep(reservation.wait)
                if not reservation.tracks_tokens:
                    reservation = None
            sent_at = clock.monotonic() if group is not None else 0.0  # only balancing measures
            outcome = yield Send(kwargs, endpoint)
            if type(outcome) is not Failed:
                if group is not None and endpoint is not None:
                    group.observe(endpoint, clock.monotonic() - sent_at)
                if breaker is not None:
                    breaker.on_success(probe)
                if reservation is not None:
                    call.on_end(_settle_tokens(reservation))
                if retry is not None:
                    call.set_attribute(semconv.RETRY_ATTEMPTS, attempt)
                return outcome
            error = outcome.error
            transient = is_transient(error)
            if group is not None and endpoint is not None and transient:
                # A failed endpoint looks slow to least_latency, so it is not chosen again at once.
                group.observe(endpoint, max(clock.monotonic() - sent_at, FAILURE_LATENCY))
            if breaker is not None:
                breaker.on_failure(transient, probe, clock.monotonic())
                if breaker.state is State.OPEN:
                    self._open_until[breaker.key] = clock.monotonic() + policies.circuit_breaker.reset_timeout
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

    def _choose_endpoint(self, call: GenAICall, group: _Group, model: str | None) -> Endpoint:
        assert self._balancer is not None
        provider = call.provider

        now = _clock.CLOCK.monotonic()

        def is_open(endpoint: Endpoint) -> bool:
            key = _breaker_key(provider, f"{endpoint.host}:{endpoint.port}", model)
            return self._open_until.get(key, 0.0) > now

        endpoint = group.pick(self._balancer.strategy, is_open)
        # The breaker key and the span's server.* follow the endpoint actually used.
        call.metric_attributes[semconv.SERVER_ADDRESS] = endpoint.host
        call.metric_attributes[semconv.SERVER_PORT] = endpoint.port
        call.set_attribute(semconv.SERVER_ADDRESS, endpoint.host)
        call.set_attribute(semconv.SERVER_PORT, endpoint.port)
        call.set_attribute(semconv.BALANCING_ENDPOINT, endpoint.url)
        call.set_attribute(semconv.BALANCING_STRATEGY, self._balancer.strategy)
        self._balanced.add(
            1,
            {
                semconv.PROVIDER_NAME: provider,
                semconv.BALANCING_ENDPOINT: endpoint.url,
                semconv.BALANCING_STRATEGY: self._balancer.strategy,
            },
        )
        return endpoint

    def _reserve(
        self, call: GenAICall, limiter: Limiter, counts_tokens: bool, kwargs: Mapping[str, Any], span: Any
    ) -> Slot:
        try:
            tokens = estimate_tokens(kwargs) if counts_tokens else 0
            reservation = limiter.acquire(tokens, _clock.CLOCK.monotonic())
        except RateLimitExceeded as exc:
            self._rate_rejections.add(1, {semconv.POLICY_KEY: limiter.key})
            span.add_event(
                "agentops.rate_limit.rejected",
                {semconv.POLICY_KEY: exc.key, "agentops.rate_limit.wait": exc.wait},
            )
            raise
        if reservation.wait > 0:
            self._rate_waits.record(reservation.wait, {semconv.POLICY_KEY: limiter.key})
            span.add_event(
                "agentops.rate_limit.wait",
                {semconv.POLICY_KEY: limiter.key, "agentops.rate_limit.wait": reservation.wait},
            )
        return reservation

    # ------------------------------------------------------------ per-key state

    def _resolved(self, provider: str, model: str | None) -> _Resolved:
        resolved = self._memo.get((provider, model))
        if resolved is None:
            # Unlocked: two threads may both build one; either is right, since both name the same objects.
            policies = self.settings.resolve(provider, model)
            resolved = _Resolved(policies, self._retry(policies) if policies.retry.enabled else None)
            if len(self._memo) >= RESOLVED_MEMO:
                self._memo.clear()
            self._memo[(provider, model)] = resolved
        return resolved

    def _breaker_of(self, call: GenAICall, model: str | None, resolved: _Resolved) -> Breaker:
        """`_breaker`, looked up by the raw endpoint attributes rather than by a key built on every call."""
        attributes = call.metric_attributes
        endpoint = (attributes.get(semconv.SERVER_ADDRESS, ""), attributes.get(semconv.SERVER_PORT, ""))
        breaker = resolved.breakers.get(endpoint)
        if breaker is None:
            breaker = resolved.breakers[endpoint] = self._breaker(call, model, resolved.policies)
        return breaker

    def _retry(self, policies: PolicySet) -> RetryPolicy:
        # By value: resolved settings are rebuilt once evicted, and a freed one's id() could name another.
        retry = self._retries.get(policies.retry)
        if retry is None:
            retry = self._retries[policies.retry] = RetryPolicy(policies.retry)
        return retry

    def _breaker(self, call: GenAICall, model: str | None, policies: PolicySet) -> Breaker:
        attributes = call.metric_attributes
        endpoint = f"{attributes.get(semconv.SERVER_ADDRESS, '')}:{attributes.get(semconv.SERVER_PORT, '')}"
        key = _breaker_key(call.provider, endpoint, model)
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

    def _limiter(self, call: GenAICall, model: str | None, policies: PolicySet) -> Limiter:
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


def _breaker_key(provider: str, endpoint: str, model: str | None) -> str:
    return f"{provider}|{endpoint}|{model}"


def _make_cache(scaling: ScalingSettings) -> ResponseCache | None:
    """A redis:// backend, or OTEL_AGENTOPS_STATE_URL (all policy state in Redis), shares the cache;
    `memory` without a state URL keeps it in this process. A redis:// URL that cannot be used (reported
    by `state.redis_store`) leaves the cache off rather than quietly per-process."""
    backend = scaling.cache.backend
    if backend and backend != "memory":
        store = state.redis_store(backend)
        return None if store is None else ResponseCache(scaling.cache, store)
    return ResponseCache(scaling.cache, state.shared_store())


def _settle_tokens(reservation: Slot) -> Callable[[GenAICall], None]:
    def settle(call: GenAICall) -> None:
        if call.input_tokens is not None or call.output_tokens is not None:
            reservation.settle((call.input_tokens or 0) + (call.output_tokens or 0))

    return settle
