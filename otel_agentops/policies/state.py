"""Where the per-key policy state lives: in this process, or shared by every process through Redis.

The chain asks this module for a key's rate limiter and circuit breaker; which implementation it gets is
decided here and nowhere else.
"""

from __future__ import annotations

from otel_agentops.config.policies import BreakerSettings, RateLimitSettings
from otel_agentops.policies.breaker import CircuitBreaker, Transition
from otel_agentops.policies.ratelimit import RateLimiter


def rate_limiter(key: str, settings: RateLimitSettings) -> RateLimiter:
    return RateLimiter(key, settings)


def circuit_breaker(key: str, settings: BreakerSettings, on_transition: Transition) -> CircuitBreaker:
    return CircuitBreaker(key, settings, on_transition)
