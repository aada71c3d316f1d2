"""The rate limiter of `policies.ratelimit`, with its windows in Redis: one RPM / TPM limit for every process.

The same sliding windows and the same rules (no 60-second span sees more than the limit; a call reserves
the earliest slot, never before one already reserved, and the caller sleeps until then; raise mode or a wait
over max_wait refuses and reserves nothing), computed and reserved in one Lua script, so concurrent
processes cannot both take the last slot.

Clock: the script reads Redis' ``TIME``. Every process then measures the window on the same clock; the
``now`` the chain passes (this process's monotonic clock, which means nothing to another process) is used
only when Redis is unavailable and the call falls back to this process's own limiter. The wait returned is
a duration, so sleeping it on the local clock is right.

Keys, with ``agentops:`` as the default prefix and the limiter key (``provider|model``) as a cluster hash tag:
``rl:{key}:requests`` (sorted set: reservation id -> time), ``rl:{key}:tokens`` (the same for tokens),
``rl:{key}:amounts`` (hash: reservation id -> tokens) and ``rl:{key}:meta`` (hash: ``seq``; ``tokens``, the
sum of the amounts). Every key expires one window after its latest reservation.
"""

from __future__ import annotations

import contextlib
from typing import Any

from otel_agentops.config.policies import RateLimitSettings
from otel_agentops.policies.errors import RateLimitExceeded
from otel_agentops.policies.ratelimit import WINDOW, RateLimiter, Reservation
from otel_agentops.policies.shared.backend import Backend, StateUnavailable

_COMMON = """
local window = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local function fmt(x) return string.format('%.17g', x) end
"""

# KEYS: requests, tokens, amounts, meta. ARGV: window, rpm or '', tpm or '', estimated tokens,
# '1' to refuse any wait (raise mode), max wait.
# Returns {1, wait, reservation id} or {0, wait} when refused (wait as a string: Lua numbers become integers).
_ACQUIRE = (
    _COMMON
    + """
local requests, tokens, amounts, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local CHUNK = 500

local function sum_amounts(members)
  local sum = 0
  for i = 1, #members, CHUNK do
    local values = redis.call('HMGET', amounts, unpack(members, i, math.min(i + CHUNK - 1, #members)))
    for _, value in ipairs(values) do sum = sum + (tonumber(value) or 0) end
  end
  return sum
end

-- After the window's last reservation when it lies in the future: waiters are served in order.
local function start_of(window_key)
  local last = redis.call('ZRANGE', window_key, -1, -1, 'WITHSCORES')
  if #last > 0 and tonumber(last[2]) > now then return tonumber(last[2]) end
  return now
end

local function request_slot(limit)
  redis.call('ZREMRANGEBYSCORE', requests, '-inf', fmt(now - window))
  local start = start_of(requests)
  local after = '(' .. fmt(start - window)
  local used = redis.call('ZCOUNT', requests, after, '+inf')
  if used + 1 <= limit then return start end
  -- Every reservation counts 1: the slot frees when the n-th oldest still in the window expires.
  local n = math.min(math.ceil(used + 1 - limit), used)
  if n <= 0 then return start end
  local entry = redis.call('ZRANGEBYSCORE', requests, after, '+inf', 'WITHSCORES', 'LIMIT', n - 1, 1)
  return math.max(start, tonumber(entry[2]) + window)
end

local function token_slot(limit, amount)
  local cutoff = fmt(now - window)
  local total = tonumber(redis.call('HGET', meta, 'tokens')) or 0
  local expired = redis.call('ZRANGEBYSCORE', tokens, '-inf', cutoff)
  if #expired > 0 then
    total = total - sum_amounts(expired)
    for i = 1, #expired, CHUNK do
      redis.call('HDEL', amounts, unpack(expired, i, math.min(i + CHUNK - 1, #expired)))
    end
    redis.call('ZREMRANGEBYSCORE', tokens, '-inf', cutoff)
    if redis.call('ZCARD', tokens) == 0 then total = 0 end
    redis.call('HSET', meta, 'tokens', fmt(total))
  end
  local start = start_of(tokens)
  local used = total
  if start > now then
    used = used - sum_amounts(redis.call('ZRANGEBYSCORE', tokens, '-inf', fmt(start - window)))
  end
  if used + amount <= limit then return start end
  -- Walk the window from its oldest entry until enough of it has expired; a request larger than the whole
  -- limit goes alone, once the window is empty.
  local after = '(' .. fmt(start - window)
  local offset = 0
  while true do
    local page = redis.call('ZRANGEBYSCORE', tokens, after, '+inf', 'WITHSCORES', 'LIMIT', offset, CHUNK)
    if #page == 0 then return start end
    local members = {}
    for i = 1, #page, 2 do members[#members + 1] = page[i] end
    local values = redis.call('HMGET', amounts, unpack(members))
    for i, value in ipairs(values) do
      used = used - (tonumber(value) or 0)
      if used + amount <= limit or used <= 0 then return math.max(start, tonumber(page[2 * i]) + window) end
    end
    offset = offset + CHUNK
  end
end

local rpm, tpm, estimate = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local at = now
if rpm then at = math.max(at, request_slot(rpm)) end
if tpm then at = math.max(at, token_slot(tpm, estimate)) end
local wait = at - now
if wait > 0 and (ARGV[5] == '1' or wait > tonumber(ARGV[6])) then return {0, fmt(wait)} end
local id = time[1] .. '.' .. time[2] .. '-' .. redis.call('HINCRBY', meta, 'seq', 1)
local ttl = math.ceil(wait + window) + 1
if rpm then
  redis.call('ZADD', requests, fmt(at), id)
  redis.call('EXPIRE', requests, ttl)
end
if tpm then
  redis.call('ZADD', tokens, fmt(at), id)
  redis.call('HSET', amounts, id, estimate)
  redis.call('HINCRBYFLOAT', meta, 'tokens', estimate)
  redis.call('EXPIRE', tokens, ttl)
  redis.call('EXPIRE', amounts, ttl)
end
redis.call('EXPIRE', meta, ttl)
return {1, fmt(wait), id}
"""
)

# KEYS: amounts, meta. ARGV: reservation id, tokens used. A reservation already out of the window is left.
_SETTLE = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HINCRBYFLOAT', KEYS[2], 'tokens', tonumber(ARGV[2]) - tonumber(old))
return 1
"""


class SharedReservation:
    __slots__ = ("_entry", "_limiter", "wait")

    def __init__(self, limiter: SharedRateLimiter, entry: str | None, wait: float) -> None:
        self._limiter = limiter
        self._entry = entry
        self.wait = wait

    @property
    def tracks_tokens(self) -> bool:
        return self._entry is not None

    def settle(self, tokens: int) -> None:
        """Replace the token estimate by the real usage, so later calls (in any process) see it."""
        if self._entry is not None:
            self._limiter.correct(self._entry, tokens)


class SharedRateLimiter:
    """Same interface as `RateLimiter`; falls back to a process-local one while Redis is unavailable."""

    __slots__ = ("_backend", "_keys", "_local", "key", "settings")

    def __init__(self, key: str, settings: RateLimitSettings, backend: Backend) -> None:
        self.key = key
        self.settings = settings
        self._backend = backend
        self._keys = [backend.key("rl", key, part) for part in ("requests", "tokens", "amounts", "meta")]
        self._local = RateLimiter(key, settings)

    @property
    def counts_tokens(self) -> bool:
        return self._local.counts_tokens

    def acquire(self, estimated_tokens: int, now: float) -> SharedReservation | Reservation:
        """Reserve a slot in the shared windows (Redis' clock); `now` serves only the local fallback."""
        settings = self.settings
        args = [
            WINDOW,
            settings.rpm or "",
            settings.tpm or "",
            estimated_tokens,
            "1" if settings.mode == "raise" else "0",
            settings.max_wait,
        ]
        try:
            granted, wait, entry = self._backend.script(
                "rate_limit.acquire", _ACQUIRE, self._keys, args, _parse_acquire
            )
        except StateUnavailable:
            return self._local.acquire(estimated_tokens, now)
        if not granted:
            raise RateLimitExceeded(self.key, wait)
        return SharedReservation(self, entry if settings.tpm else None, wait)

    def correct(self, entry: str, tokens: int) -> None:
        # When Redis does not answer, the estimate stands until the reservation leaves the window.
        with contextlib.suppress(StateUnavailable):
            self._backend.script("rate_limit.settle", _SETTLE, self._keys[2:], [entry, tokens])


def _parse_acquire(reply: Any) -> tuple[bool, float, str | None]:
    granted = int(reply[0]) == 1
    entry = reply[2].decode() if granted else None
    return granted, max(0.0, float(reply[1])), entry
