"""Load balancing across equivalent deployments of one provider (`OTEL_AGENTOPS_ENDPOINTS`).

A client takes part when its base URL is one of a configured group's URLs; its requests are then spread
over the whole group (a client with any other base URL is never touched). Each attempt picks an endpoint
anew, so a retry can land on another deployment. Endpoints whose circuit breaker is open are skipped while
another one is available; when all are open the strategy picks among all of them and the breaker decides
(it rejects the call, or lets a half-open probe through).

Strategies: `round_robin`; `random`; `least_latency`: the lowest moving average (EWMA, alpha 0.3) of
observed successful request latency, endpoints not measured yet first.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from otel_agentops.config.scaling import BalancingSettings, normalize_url
from otel_agentops.genai import semconv
from otel_agentops.genai.endpoint import url_attributes

ALPHA = 0.3


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    host: str
    port: int


def _endpoint(url: str) -> Endpoint:
    attrs = url_attributes(url)  # the config only lets http(s) URLs with a host through
    return Endpoint(url, attrs[semconv.SERVER_ADDRESS], attrs[semconv.SERVER_PORT])


class _Group:
    def __init__(self, urls: Sequence[str]) -> None:
        self.endpoints = tuple(_endpoint(url) for url in urls)
        self._turns = itertools.count()
        self._latency: dict[str, float] = {}
        self._lock = threading.Lock()

    def pick(self, strategy: str, is_open: Callable[[Endpoint], bool]) -> Endpoint:
        candidates = [e for e in self.endpoints if not is_open(e)] or list(self.endpoints)
        if strategy == "random":
            return random.choice(candidates)  # spreading load, not a secret
        if strategy == "least_latency":
            latency = self._latency
            # Not measured yet: 0, so every endpoint is tried before the averages decide.
            return min(candidates, key=lambda e: latency.get(e.url, 0.0))
        turn = next(self._turns)  # itertools.count is atomic under the GIL
        return candidates[turn % len(candidates)]

    def observe(self, endpoint: Endpoint, seconds: float) -> None:
        with self._lock:
            previous = self._latency.get(endpoint.url)
            self._latency[endpoint.url] = (
                seconds if previous is None else previous + ALPHA * (seconds - previous)
            )

    def average(self, url: str) -> float | None:
        return self._latency.get(url)


class Balancer:
    def __init__(self, settings: BalancingSettings) -> None:
        self.strategy = settings.strategy
        self._groups: dict[str, _Group] = {}
        for urls in settings.groups:
            group = _Group(urls)
            for url in urls:
                self._groups[url] = group

    def group_for(self, base_url: str) -> _Group | None:
        return self._groups.get(normalize_url(base_url))
