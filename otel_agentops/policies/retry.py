"""Retry delays: exponential backoff with full jitter (tenacity's maths), or what the server asked for."""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import wait_exponential, wait_random_exponential

from otel_agentops.config.policies import RetrySettings
from otel_agentops.policies.classify import retry_after


@dataclass(frozen=True, slots=True)
class _Attempt:
    """The one field of tenacity's RetryCallState its wait strategies read."""

    attempt_number: int


class RetryPolicy:
    __slots__ = ("_wait", "max_attempts", "max_delay")

    def __init__(self, settings: RetrySettings) -> None:
        self.max_attempts = settings.max_attempts
        self.max_delay = settings.max_delay
        strategy = wait_random_exponential if settings.jitter else wait_exponential
        self._wait = strategy(multiplier=settings.base_delay, max=settings.max_delay)

    def delay(self, attempt: int, error: BaseException, now: float) -> float:
        """Seconds before attempt `attempt + 1`: Retry-After when the server sent one, capped at max_delay."""
        asked = retry_after(error, now)
        if asked is not None:
            return min(asked, self.max_delay)
        return float(self._wait(_Attempt(attempt)))
