"""Client-side rate limits per (provider, model): requests and tokens per minute, over a sliding window.

A sliding window (not a token bucket) so that no 60-second span ever sees more than the limit, bursts
included. A call reserves its slot at the earliest time the window allows (never before a slot already
reserved, so waiters are served in order); the caller then sleeps until that time. Token reservations
start from an estimate and are corrected with the usage the response reports.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

from otel_agentops.config.policies import RateLimitSettings
from otel_agentops.policies.errors import RateLimitExceeded

WINDOW = 60.0


class Slot(Protocol):
    """What `Limiter.acquire` returns: `Reservation` here, or its shared-state twin."""

    wait: float

    @property
    def tracks_tokens(self) -> bool: ...

    def settle(self, tokens: int) -> None: ...


class Limiter(Protocol):
    """The interface the policy chain uses: `RateLimiter`, or `policies.shared.ratelimit`'s (Redis)."""

    key: str
    settings: RateLimitSettings

    @property
    def counts_tokens(self) -> bool: ...

    def acquire(self, estimated_tokens: int, now: float) -> Slot: ...


class _Entry:
    __slots__ = ("amount", "time")

    def __init__(self, time: float, amount: float) -> None:
        self.time = time
        self.amount = amount


class _Window:
    __slots__ = ("entries", "limit", "total")

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.entries: deque[_Entry] = deque()
        self.total = 0.0

    def earliest(self, amount: float, now: float) -> float:
        entries = self.entries
        while entries and entries[0].time <= now - WINDOW:
            self.total -= entries.popleft().amount
        start = max(now, entries[-1].time) if entries else now
        used = self.total
        if start > now:  # waiting behind earlier reservations: some entries expire by then
            used -= sum(e.amount for e in entries if e.time <= start - WINDOW)
        if used + amount <= self.limit:
            return start
        # Walk the window from its oldest entry until enough of it has expired. A request larger than the
        # whole limit goes alone, once the window is empty.
        for entry in entries:
            if entry.time <= start - WINDOW:
                continue
            used -= entry.amount
            if used + amount <= self.limit or used <= 0:
                return max(start, entry.time + WINDOW)
        return start

    def reserve(self, at: float, amount: float) -> _Entry:
        entry = _Entry(at, amount)
        self.entries.append(entry)
        self.total += amount
        return entry


class Reservation:
    __slots__ = ("_entry", "_limiter", "wait")

    @property
    def tracks_tokens(self) -> bool:
        return self._entry is not None

    def __init__(self, limiter: RateLimiter, entry: _Entry | None, wait: float) -> None:
        self._limiter = limiter
        self._entry = entry
        self.wait = wait

    def settle(self, tokens: int) -> None:
        """Replace the token estimate by the real usage, so later calls see what was actually spent."""
        if self._entry is not None:
            self._limiter.correct(self._entry, tokens)


class RateLimiter:
    __slots__ = ("_lock", "_requests", "_tokens", "key", "settings")

    def __init__(self, key: str, settings: RateLimitSettings) -> None:
        self.key = key
        self.settings = settings
        self._lock = threading.Lock()
        self._requests = _Window(settings.rpm) if settings.rpm else None
        self._tokens = _Window(settings.tpm) if settings.tpm else None

    @property
    def counts_tokens(self) -> bool:
        return self._tokens is not None

    def acquire(self, estimated_tokens: int, now: float) -> Reservation:
        """Reserve a slot; the caller sleeps `wait` seconds. Raises RateLimitExceeded instead of waiting
        in raise mode, or when the wait would exceed max_wait; then nothing is reserved."""
        with self._lock:
            at = now
            if self._requests is not None:
                at = max(at, self._requests.earliest(1, now))
            if self._tokens is not None:
                at = max(at, self._tokens.earliest(estimated_tokens, now))
            wait = at - now
            if wait > 0 and (self.settings.mode == "raise" or wait > self.settings.max_wait):
                raise RateLimitExceeded(self.key, wait)
            if self._requests is not None:
                self._requests.reserve(at, 1)
            entry = self._tokens.reserve(at, estimated_tokens) if self._tokens is not None else None
        return Reservation(self, entry, wait)

    def correct(self, entry: _Entry, tokens: int) -> None:
        with self._lock:
            if self._tokens is not None:
                self._tokens.total += tokens - entry.amount
            entry.amount = tokens
