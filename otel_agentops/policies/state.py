"""Where the per-key policy state lives: in this process, or shared by every process through Redis.

The chain asks this module for a key's rate limiter and circuit breaker; which implementation it gets is
decided here and nowhere else. With ``OTEL_AGENTOPS_STATE_URL=redis://...`` (see `config.state`) they are
the Redis-backed ones of `policies.shared`: same interface, state in Redis, Redis' clock, and this process's
own state for any operation Redis does not answer. The response cache gets its shared store here too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from otel_agentops.config import state as state_config
from otel_agentops.config.policies import BreakerSettings, RateLimitSettings
from otel_agentops.policies.breaker import Breaker, CircuitBreaker, Transition
from otel_agentops.policies.ratelimit import Limiter, RateLimiter

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter

    from otel_agentops.policies.shared.backend import Backend


class Store(Protocol):
    """Bytes under a key with a time to live, shared by every process (the Redis response cache)."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_seconds: float) -> None: ...


def rate_limiter(key: str, settings: RateLimitSettings) -> Limiter:
    backend = _state_backend()
    if backend is None:
        return RateLimiter(key, settings)
    from otel_agentops.policies.shared.ratelimit import SharedRateLimiter

    return SharedRateLimiter(key, settings, backend)


def circuit_breaker(key: str, settings: BreakerSettings, on_transition: Transition) -> Breaker:
    backend = _state_backend()
    if backend is None:
        return CircuitBreaker(key, settings, on_transition)
    from otel_agentops.policies.shared.breaker import SharedCircuitBreaker

    return SharedCircuitBreaker(key, settings, on_transition, backend)


def shared_store() -> Store | None:
    """The store on ``OTEL_AGENTOPS_STATE_URL``, or None when state is local."""
    backend = _state_backend()
    return None if backend is None else _store(backend)


def redis_store(url: str, variable: str = "OTEL_AGENTOPS_CACHE") -> Store | None:
    """A store on an explicit ``redis://`` URL (keys under ``OTEL_AGENTOPS_STATE_PREFIX``); None, after
    reporting it under `variable`, when the URL is malformed."""
    checked = state_config.check_url(url, variable, instead="no shared store")
    if checked is None:
        return None
    from otel_agentops.policies.shared.backend import backend

    return _store(backend(checked, state_config.load().prefix))


def bind_meter(meter: Meter) -> None:
    """Count ``agentops.state.fallbacks`` on the instrumentation's meter (else on the global one)."""
    from otel_agentops.policies.shared.backend import FALLBACKS

    FALLBACKS.bind(meter)


def _state_backend() -> Backend | None:
    settings = state_config.load()
    if settings.url is None:
        return None
    from otel_agentops.policies.shared.backend import backend

    return backend(settings.url, settings.prefix)


def _store(backend: Backend) -> Store:
    from otel_agentops.policies.shared.store import RedisStore

    return RedisStore(backend)
