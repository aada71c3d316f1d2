"""Client-side rate limits per (provider, model): requests and tokens per minute, over a sliding window.

A sliding window (not a token bucket) so that no 60-second span ever sees more than the limit, bursts
included. A call reserves its slot at the earliest time the window allows (never before a slot already
reserved, so waiters are served in order); the caller then sleeps until that time. Token reservations
start from an estimate and are corrected with the usage the response reports.

Memory stays flat however many calls go through: reservations less than `MERGE` seconds apart share one
entry, which takes the later time (so an earlier one counts up to `MERGE` longer than the window: never
less), so a window holds at most WINDOW / MERGE entries.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Protocol

from otel_agentops.config.policies import RateLimitSettings
from otel_agentops.policies.errors import RateLimitExceeded

WINDOW = 60.0
MERGE = 0.1


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
    __slots__ = ("amount", "live", "time")

    def __init__(self, time: float, amount: float) -> None:
        self.time = time
        self.amount = amount
        self.live = True  # still in the window (a correction after it left must not change the total)


class _Window:
    __slots__ = ("entries", "limit", "merge", "total")

    def __init__(self, limit: float, merge: float) -> None:
        self.limit = limit
        self.merge = merge
        self.entries: deque[_Entry] = deque()
        self.total = 0.0

    def _expire(self, now: float) -> deque[_Entry]:
        """Drops the entries that left the window by `now`; the entries left."""
        entries = self.entries
        while entries and entries[0].time <= now - WINDOW:
            expired = entries.popleft()
            expired.live = False
            self.total -= expired.amount
        return entries

    def earliest(self, amount: float, now: float) -> float:
        entries = self._expire(now)
        start = now  # max(now, the last reservation), without max() (see `RateLimiter.acquire`)
        if entries:
            last = entries[-1].time
            if last > now:
                start = last
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

    def free_now(self, amount: float, now: float) -> bool:
        """Whether `amount` fits now, with no reservation to wait behind: `earliest` would then give
        `now`. Drops the entries that left the window first, as `earliest` does (again, harmlessly)."""
        entries = self._expire(now)
        if entries and entries[-1].time > now:
            return False
        return self.total + amount <= self.limit

    def reserve(self, at: float, amount: float) -> _Entry:
        self.total += amount
        entries = self.entries
        if entries:
            last = entries[-1]
            # `at` is never before the last reservation (earliest() starts there).
            if at - last.time < self.merge:
                last.time = at
                last.amount += amount
                return last
        entry = _Entry(at, amount)
        entries.append(entry)
        return entry


class Reservation:
    __slots__ = ("_entry", "_estimate", "_limiter", "tracks_tokens", "wait")

    def __init__(self, limiter: RateLimiter, entry: _Entry | None, wait: float, estimate: int = 0) -> None:
        self._limiter = limiter
        self._entry = entry
        self._estimate = estimate
        self.wait = wait
        self.tracks_tokens = entry is not None  # an attribute, not a property: read on every call

    def settle(self, tokens: int) -> None:
        """Replace the token estimate by the real usage, so later calls see what was actually spent."""
        if self._entry is not None:
            self._limiter.correct(self._entry, tokens - self._estimate)
            self._estimate = tokens


class RateLimiter:
    __slots__ = ("_lock", "_requests", "_tokens", "key", "settings")

    def __init__(self, key: str, settings: RateLimitSettings, merge: float = MERGE) -> None:
        """`merge`: reservations closer than this share an entry (0: one entry each, as the Redis twin)."""
        self.key = key
        self.settings = settings
        self._lock = threading.Lock()
        self._requests = _Window(settings.rpm, merge) if settings.rpm else None
        self._tokens = _Window(settings.tpm, merge) if settings.tpm else None

    @property
    def counts_tokens(self) -> bool:
        return self._tokens is not None

    def acquire(self, estimated_tokens: int, now: float) -> Reservation:
        """Reserve a slot; the caller sleeps `wait` seconds. Raises RateLimitExceeded instead of waiting
        in raise mode, or when the wait would exceed max_wait; then nothing is reserved."""
        requests, tokens = self._requests, self._tokens
        entry = None
        with self._lock:
            at = now
            # While the limits are far off (every call, mostly) the slot is `now`: no need to work out
            # when the earliest one is.
            if not (
                (requests is None or requests.free_now(1, now))
                and (tokens is None or tokens.free_now(estimated_tokens, now))
            ):
                # Comparisons rather than max(): the builtin's argument parsing costs more than the rest
                # of these lines.
                if requests is not None:
                    start = requests.earliest(1, now)
                    if start > at:  # noqa: PLR1730 - see above
                        at = start
                if tokens is not None:
                    start = tokens.earliest(estimated_tokens, now)
                    if start > at:  # noqa: PLR1730 - see above
                        at = start
                wait = at - now
                if wait > 0 and (self.settings.mode == "raise" or wait > self.settings.max_wait):
                    raise RateLimitExceeded(self.key, wait)
            if requests is not None:
                requests.reserve(at, 1)
            if tokens is not None:
                entry = tokens.reserve(at, estimated_tokens)
        return Reservation(self, entry, at - now, estimated_tokens)

    def correct(self, entry: _Entry, delta: int) -> None:
        """Add `delta` tokens (real usage minus the estimate) to the reservation's entry."""
        with self._lock:
            if entry.live and self._tokens is not None:
                self._tokens.total += delta
                entry.amount += delta
