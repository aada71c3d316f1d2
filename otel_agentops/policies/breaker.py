"""Circuit breaker per (provider, endpoint, model): closed -> open -> half-open -> closed.

The lock guards only the state change, never the call itself, so concurrent calls through a closed breaker
run in parallel; the same object works from threads and from asyncio tasks (no await under the lock).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import IntEnum
from typing import Protocol

from otel_agentops.config.policies import BreakerSettings
from otel_agentops.policies.errors import CircuitOpenError


class State(IntEnum):
    """Values of the `agentops.circuit_breaker.state` gauge."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


Transition = Callable[[str, State, State], None]
# Every call through a closed breaker checks for it twice: a module global is found faster than an enum
# member through its class.
_CLOSED = State.CLOSED


class Breaker(Protocol):
    """The interface the policy chain uses: `CircuitBreaker`, or `policies.shared.breaker`'s (Redis)."""

    key: str
    settings: BreakerSettings
    state: State

    def before_call(self, now: float) -> bool: ...

    def on_success(self, probe: bool) -> None: ...

    def on_failure(self, transient: bool, probe: bool, now: float) -> None: ...


class CircuitBreaker:
    __slots__ = (
        "_failures",
        "_in_flight_probes",
        "_lock",
        "_on_transition",
        "_opened_at",
        "_probe_successes",
        "key",
        "settings",
        "state",
    )

    def __init__(self, key: str, settings: BreakerSettings, on_transition: Transition) -> None:
        self.key = key
        self.settings = settings
        self.state = State.CLOSED
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at = 0.0
        self._in_flight_probes = 0
        self._probe_successes = 0
        self._on_transition = on_transition

    def before_call(self, now: float) -> bool:
        """Admit the call (True when it is a half-open probe) or raise CircuitOpenError without sending it."""
        if self.state is _CLOSED:
            # The common case, without the lock: a call that reads CLOSED while another thread opens the
            # breaker is one that arrived a moment earlier.
            return False
        transition = None
        with self._lock:
            if self.state is State.OPEN:
                remaining = self._opened_at + self.settings.reset_timeout - now
                if remaining > 0:
                    raise CircuitOpenError(self.key, remaining)
                transition = self._move(State.HALF_OPEN)
                self._in_flight_probes = 0
                self._probe_successes = 0
            probe = self.state is State.HALF_OPEN
            if probe:
                # At most success_threshold probes at a time: enough to close, few enough to spare a
                # recovering server from the whole backlog at once.
                if self._in_flight_probes >= self.settings.success_threshold:
                    raise CircuitOpenError(self.key, 0.0)
                self._in_flight_probes += 1
        self._notify(transition)
        return probe

    def on_success(self, probe: bool) -> None:
        if not probe and self.state is _CLOSED and self._failures == 0:
            return  # nothing to reset (no lock: a failure counted meanwhile is not lost, it stays counted)
        transition = None
        with self._lock:
            if probe:
                self._in_flight_probes -= 1
            if self.state is State.HALF_OPEN and probe:
                self._probe_successes += 1
                if self._probe_successes >= self.settings.success_threshold:
                    transition = self._move(State.CLOSED)
                    self._failures = 0
            elif self.state is State.CLOSED:
                self._failures = 0
        self._notify(transition)

    def on_failure(self, transient: bool, probe: bool, now: float) -> None:
        """Count a failure; client errors (4xx but 408/409/429) say nothing about the server's health."""
        transition = None
        with self._lock:
            if probe:
                self._in_flight_probes -= 1
            if not transient:
                return
            if self.state is State.HALF_OPEN and probe:
                transition = self._open(now)
            elif self.state is State.CLOSED:
                self._failures += 1
                if self._failures >= (self.settings.failure_threshold or 1):
                    transition = self._open(now)
        self._notify(transition)

    def _open(self, now: float) -> tuple[State, State] | None:
        self._opened_at = now
        return self._move(State.OPEN)

    def _move(self, new: State) -> tuple[State, State] | None:
        old, self.state = self.state, new
        return (old, new) if old is not new else None

    def _notify(self, transition: tuple[State, State] | None) -> None:
        if transition is not None:
            self._on_transition(self.key, *transition)
