"""The exceptions the policies raise into the app (re-exported as `otel_agentops.CircuitOpenError`, ...)."""

from __future__ import annotations


class CircuitOpenError(Exception):
    """The circuit breaker for this provider endpoint and model is open: the call was not sent."""

    def __init__(self, key: str, retry_in: float) -> None:
        super().__init__(f"circuit breaker open for {key}; next probe in {retry_in:.1f} s")
        self.key = key
        self.retry_in = retry_in


class RateLimitExceeded(Exception):
    """The client-side rate limit would need a wait longer than allowed (or mode=raise): not sent."""

    def __init__(self, key: str, wait: float) -> None:
        super().__init__(f"client-side rate limit for {key}: next slot in {wait:.2f} s")
        self.key = key
        self.wait = wait
