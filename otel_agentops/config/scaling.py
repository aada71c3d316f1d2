"""Settings of the cost and scale policies: response cache, model routing, load balancing, batching.

Every one is off unless its variable is set::

    OTEL_AGENTOPS_CACHE=memory | redis://host:6379/0      OTEL_AGENTOPS_CACHE_MAX_ENTRIES=1024
    OTEL_AGENTOPS_CACHE_TTL=3600                           (seconds)
    OTEL_AGENTOPS_MODEL_ROUTING="auto:simple=gpt-4o-mini,moderate=gpt-4o,complex=o3"   (aliases split by ;)
    OTEL_AGENTOPS_MODEL_ROUTING_THRESHOLDS=400,2000       (estimated prompt tokens: simple < 400 <= moderate
                                                           < 2000 <= complex)
    OTEL_AGENTOPS_ENDPOINTS="http://a:8000/v1,http://b:8000/v1"   (groups of equivalent base URLs, split by ;)
    OTEL_AGENTOPS_LOAD_BALANCING=round_robin | random | least_latency
    OTEL_AGENTOPS_BATCH_MAX_WAIT_MS=20                     OTEL_AGENTOPS_BATCH_MAX_SIZE=64

A bad value is reported once (variable, value, accepted form) and that setting keeps its default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urlsplit

from otel_agentops.config.env import parse_float, parse_int, report_invalid
from otel_agentops.config.state import mask_password

CACHE = "OTEL_AGENTOPS_CACHE"
CACHE_MAX_ENTRIES = "OTEL_AGENTOPS_CACHE_MAX_ENTRIES"
CACHE_TTL = "OTEL_AGENTOPS_CACHE_TTL"
MODEL_ROUTING = "OTEL_AGENTOPS_MODEL_ROUTING"
MODEL_ROUTING_THRESHOLDS = "OTEL_AGENTOPS_MODEL_ROUTING_THRESHOLDS"
ENDPOINTS = "OTEL_AGENTOPS_ENDPOINTS"
LOAD_BALANCING = "OTEL_AGENTOPS_LOAD_BALANCING"
BATCH_MAX_WAIT_MS = "OTEL_AGENTOPS_BATCH_MAX_WAIT_MS"
BATCH_MAX_SIZE = "OTEL_AGENTOPS_BATCH_MAX_SIZE"

TIERS = ("simple", "moderate", "complex")
STRATEGIES = ("round_robin", "random", "least_latency")
_OFF = frozenset({"", "none", "off", "false", "0"})


@dataclass(frozen=True, slots=True)
class CacheSettings:
    backend: str | None = None  # "memory", a redis:// URL, or None (off)
    max_entries: int = 1024
    ttl: float = 3600.0

    @property
    def enabled(self) -> bool:
        return self.backend is not None


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    # alias -> tier -> model; a tier left out keeps the tier below's model (or the one above for simple)
    aliases: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    thresholds: tuple[float, float] = (400.0, 2000.0)

    @property
    def enabled(self) -> bool:
        return bool(self.aliases)


@dataclass(frozen=True, slots=True)
class BalancingSettings:
    groups: tuple[tuple[str, ...], ...] = ()
    strategy: str = "round_robin"

    @property
    def enabled(self) -> bool:
        return bool(self.groups)


@dataclass(frozen=True, slots=True)
class BatchSettings:
    max_wait: float | None = None  # seconds
    max_size: int = 64

    @property
    def enabled(self) -> bool:
        return self.max_wait is not None


@dataclass(frozen=True, slots=True)
class ScalingSettings:
    cache: CacheSettings = field(default_factory=CacheSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    balancing: BalancingSettings = field(default_factory=BalancingSettings)
    batching: BatchSettings = field(default_factory=BatchSettings)

    @property
    def enabled(self) -> bool:
        return self.cache.enabled or self.routing.enabled or self.balancing.enabled or self.batching.enabled


_VARIABLES = (
    CACHE,
    CACHE_MAX_ENTRIES,
    CACHE_TTL,
    MODEL_ROUTING,
    MODEL_ROUTING_THRESHOLDS,
    ENDPOINTS,
    LOAD_BALANCING,
    BATCH_MAX_WAIT_MS,
    BATCH_MAX_SIZE,
)


def load(environ: Mapping[str, str] | None = None) -> ScalingSettings:
    """Parsed (and any problem reported) once per environment."""
    env = os.environ if environ is None else environ
    return _load(tuple((name, env[name]) for name in _VARIABLES if name in env))


@lru_cache(maxsize=8)
def _load(relevant: tuple[tuple[str, str], ...]) -> ScalingSettings:
    env = dict(relevant)
    return ScalingSettings(_cache(env), _routing(env), _balancing(env), _batching(env))


def _cache(env: Mapping[str, str]) -> CacheSettings:
    raw = env.get(CACHE, "").strip()
    backend: str | None = None
    if raw.lower() in _OFF:
        backend = None
    elif raw.lower() == "memory":
        backend = "memory"
    elif _is_redis_url(raw):
        backend = raw
    else:
        report_invalid(CACHE, mask_password(raw), "memory, a redis://host:port/db URL, or off", "off")
    max_entries = parse_int(env, CACHE_MAX_ENTRIES, 1024, minimum=1)
    ttl = parse_float(env, CACHE_TTL, 3600.0, exclusive_minimum=True, accepted="a number of seconds > 0")
    assert max_entries is not None and ttl is not None
    return CacheSettings(backend, max_entries, ttl)


def _routing(env: Mapping[str, str]) -> RoutingSettings:
    aliases: dict[str, dict[str, str]] = {}
    raw = env.get(MODEL_ROUTING, "")
    accepted = 'aliases like "auto:simple=gpt-4o-mini,moderate=gpt-4o,complex=o3" separated by ;'
    for spec in filter(str.strip, raw.split(";")):
        alias, _, tiers = spec.partition(":")
        parsed: dict[str, str] = {}
        valid = bool(alias.strip()) and bool(tiers.strip())
        for item in tiers.split(","):
            tier, _, model = (part.strip() for part in item.partition("="))
            if tier not in TIERS or not model or tier in parsed:
                valid = False
                break
            parsed[tier] = model
        if not valid:
            report_invalid(MODEL_ROUTING, spec.strip(), accepted, "this alias is not routed")
            continue
        aliases[alias.strip()] = parsed
    thresholds = (400.0, 2000.0)
    raw_thresholds = env.get(MODEL_ROUTING_THRESHOLDS, "").strip()
    if raw_thresholds:
        try:
            low, high = (float(part) for part in raw_thresholds.split(","))
            if not 0 < low < high:
                raise ValueError(raw_thresholds)
            thresholds = (low, high)
        except ValueError:
            report_invalid(
                MODEL_ROUTING_THRESHOLDS,
                raw_thresholds,
                "two increasing token counts > 0 like 400,2000",
                "400,2000",
            )
    return RoutingSettings(aliases, thresholds)


def _balancing(env: Mapping[str, str]) -> BalancingSettings:
    groups: list[tuple[str, ...]] = []
    for spec in filter(str.strip, env.get(ENDPOINTS, "").split(";")):
        urls = tuple(normalize_url(url) for url in spec.split(",") if url.strip())
        if len(urls) < 2 or len(set(urls)) != len(urls) or not all(_is_http(url) for url in urls):
            report_invalid(
                ENDPOINTS,
                spec.strip(),
                "groups of two or more different http(s) base URLs split by , (groups split by ;)",
                "this group is not balanced",
            )
            continue
        groups.append(urls)
    strategy = env.get(LOAD_BALANCING, "").strip().lower() or "round_robin"
    if strategy not in STRATEGIES:
        report_invalid(LOAD_BALANCING, env[LOAD_BALANCING], "one of " + ", ".join(STRATEGIES), "round_robin")
        strategy = "round_robin"
    return BalancingSettings(tuple(groups), strategy)


def _batching(env: Mapping[str, str]) -> BatchSettings:
    wait_ms = parse_float(
        env,
        BATCH_MAX_WAIT_MS,
        None,
        exclusive_minimum=True,
        maximum=10_000,
        accepted="milliseconds in (0, 10000]",
    )
    size = parse_int(env, BATCH_MAX_SIZE, 64, minimum=2)
    assert size is not None
    return BatchSettings(None if wait_ms is None else wait_ms / 1000, size)


def _is_redis_url(raw: str) -> bool:
    try:
        parts = urlsplit(raw)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return parts.scheme in ("redis", "rediss") and bool(parts.hostname)


def normalize_url(url: str) -> str:
    """Base URLs compare equal with or without a trailing slash, in any letter case of scheme and host."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def _is_http(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
