"""The circuit breaker of `policies.breaker`, with its state in Redis: one breaker per key for every process.

Failures counted by any process open it for all; the reset timeout runs on Redis' ``TIME`` (the ``now``
the chain passes is this process's monotonic clock and serves only the local fallback); at most
success_threshold half-open probes are in flight across all processes. Each state change is made by one
Lua script, so it happens once, and it is reported (``on_transition``) by the process that made it: summed
over processes the transitions counter counts each change once. ``state`` is the state this process last
saw.

A probe whose process dies before it ends stops counting after the probe lease (the reset timeout, at least
60 s), so a crashed replica cannot hold the breaker half-open for ever.

Keys (default prefix ``agentops:``, the breaker key as a cluster hash tag): ``cb:{key}:state`` (hash:
``state``, ``failures``, ``successes``, ``opened_at``, ``seq``) and ``cb:{key}:probes`` (sorted set of the
probes in flight by start time). Both expire after a day without writes (or twice the reset timeout).
"""

from __future__ import annotations

import math
import threading
from typing import Any

from otel_agentops.config.policies import BreakerSettings
from otel_agentops.policies.breaker import CircuitBreaker, State, Transition
from otel_agentops.policies.errors import CircuitOpenError
from otel_agentops.policies.shared.backend import Backend, StateUnavailable

MIN_PROBE_LEASE = 60.0
IDLE_EXPIRY = 86400

_COMMON = """
local status, probes = KEYS[1], KEYS[2]
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local function fmt(x) return string.format('%.17g', x) end
local state = tonumber(redis.call('HGET', status, 'state')) or 0
local old = state
local function touch(ttl)
  redis.call('EXPIRE', status, ttl)
  redis.call('EXPIRE', probes, ttl)
end
local function open()
  redis.call('HSET', status, 'state', 1, 'opened_at', fmt(now))
  state = 1
end
"""

# ARGV: reset timeout, success threshold, probe lease, ttl.
# Returns {old state, new state, admitted 0/1, probe 0/1, retry_in}.
_BEFORE_CALL = (
    _COMMON
    + """
if state == 1 then
  local remaining = (tonumber(redis.call('HGET', status, 'opened_at')) or 0) + tonumber(ARGV[1]) - now
  if remaining > 0 then return {old, 1, 0, 0, fmt(remaining)} end
  state = 2
  redis.call('HSET', status, 'state', 2, 'successes', 0)
  redis.call('DEL', probes)
  touch(ARGV[4])
end
if state == 2 then
  redis.call('ZREMRANGEBYSCORE', probes, '-inf', fmt(now - tonumber(ARGV[3])))
  if redis.call('ZCARD', probes) >= tonumber(ARGV[2]) then return {old, 2, 0, 0, '0'} end
  local id = time[1] .. '.' .. time[2] .. '-' .. redis.call('HINCRBY', status, 'seq', 1)
  redis.call('ZADD', probes, fmt(now), id)
  touch(ARGV[4])
  return {old, 2, 1, 1, '0'}
end
return {old, state, 1, 0, '0'}
"""
)

# ARGV: probe 0/1, success threshold, ttl. Returns {old state, new state}.
_ON_SUCCESS = (
    _COMMON
    + """
local probe = ARGV[1] == '1'
if probe then redis.call('ZPOPMIN', probes) end
if state == 2 and probe then
  if redis.call('HINCRBY', status, 'successes', 1) >= tonumber(ARGV[2]) then
    redis.call('HSET', status, 'state', 0, 'failures', 0)
    redis.call('DEL', probes)
    state = 0
  end
  touch(ARGV[3])
elseif state == 0 and (tonumber(redis.call('HGET', status, 'failures')) or 0) ~= 0 then
  redis.call('HSET', status, 'failures', 0)
  touch(ARGV[3])
end
return {old, state}
"""
)

# ARGV: transient 0/1, probe 0/1, failure threshold, ttl. Returns {old state, new state}.
_ON_FAILURE = (
    _COMMON
    + """
local probe = ARGV[2] == '1'
if probe then redis.call('ZPOPMIN', probes) end
if ARGV[1] ~= '1' then return {old, state} end
if state == 2 and probe then
  open()
elseif state == 0 then
  if redis.call('HINCRBY', status, 'failures', 1) >= tonumber(ARGV[3]) then open() end
end
touch(ARGV[4])
return {old, state}
"""
)


class SharedCircuitBreaker:
    """Same interface as `CircuitBreaker`; falls back to a process-local one while Redis is unavailable."""

    __slots__ = (
        "_backend",
        "_keys",
        "_local",
        "_lock",
        "_on_transition",
        "_probes",
        "_ttl",
        "key",
        "settings",
        "state",
    )

    def __init__(
        self, key: str, settings: BreakerSettings, on_transition: Transition, backend: Backend
    ) -> None:
        self.key = key
        self.settings = settings
        self.state = State.CLOSED
        self._backend = backend
        self._keys = [backend.key("cb", key, "state"), backend.key("cb", key, "probes")]
        self._on_transition = on_transition
        self._local = CircuitBreaker(key, settings, on_transition)
        self._lock = threading.Lock()
        # Probes in flight that this process was admitted to, by where they were admitted ("shared" or
        # "local"), so that their end is reported where they are counted.
        self._probes = {"shared": 0, "local": 0}
        self._ttl = max(IDLE_EXPIRY, math.ceil(2 * settings.reset_timeout + self._lease()))

    def _lease(self) -> float:
        return max(self.settings.reset_timeout, MIN_PROBE_LEASE)

    def before_call(self, now: float) -> bool:
        """Admit the call (True when it is a half-open probe) or raise CircuitOpenError without sending it."""
        settings = self.settings
        args = [settings.reset_timeout, settings.success_threshold, self._lease(), self._ttl]
        try:
            old, new, admitted, probe, retry_in = self._backend.script(
                "circuit_breaker.before_call", _BEFORE_CALL, self._keys, args, _parse_admission
            )
        except StateUnavailable:
            probe = self._local.before_call(now)
            self.state = self._local.state
            self._count_probe(probe, "local")
            return probe
        self._observe(old, new)
        if not admitted:
            raise CircuitOpenError(self.key, retry_in)
        self._count_probe(probe, "shared")
        return probe

    def on_success(self, probe: bool) -> None:
        if probe and self._end_probe() == "local":
            self._local.on_success(True)
            self.state = self._local.state
            return
        args = ["1" if probe else "0", self.settings.success_threshold, self._ttl]
        try:
            old, new = self._backend.script(
                "circuit_breaker.on_success", _ON_SUCCESS, self._keys, args, _parse_states
            )
        except StateUnavailable:
            self._local.on_success(False)  # a shared probe is not one of the local breaker's
            self.state = self._local.state
            return
        self._observe(old, new)

    def on_failure(self, transient: bool, probe: bool, now: float) -> None:
        """Count a failure; client errors (4xx but 408/409/429) say nothing about the server's health."""
        if probe and self._end_probe() == "local":
            self._local.on_failure(transient, True, now)
            self.state = self._local.state
            return
        threshold = self.settings.failure_threshold or 1
        args = ["1" if transient else "0", "1" if probe else "0", threshold, self._ttl]
        try:
            old, new = self._backend.script(
                "circuit_breaker.on_failure", _ON_FAILURE, self._keys, args, _parse_states
            )
        except StateUnavailable:
            self._local.on_failure(transient, False, now)
            self.state = self._local.state
            return
        self._observe(old, new)

    def _count_probe(self, probe: bool, where: str) -> None:
        if probe:
            with self._lock:
                self._probes[where] += 1

    def _end_probe(self) -> str:
        """Where the ending probe was admitted: shared first (local probes exist only during an outage)."""
        with self._lock:
            for where in ("shared", "local"):
                if self._probes[where] > 0:
                    self._probes[where] -= 1
                    return where
        return "shared"

    def _observe(self, old: State, new: State) -> None:
        self.state = new
        if old is not new:
            self._on_transition(self.key, old, new)


def _parse_admission(reply: Any) -> tuple[State, State, bool, bool, float]:
    old, new, admitted, probe, retry_in = reply
    return State(int(old)), State(int(new)), int(admitted) == 1, int(probe) == 1, max(0.0, float(retry_in))


def _parse_states(reply: Any) -> tuple[State, State]:
    return State(int(reply[0])), State(int(reply[1]))
