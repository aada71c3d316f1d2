"""The shared store for the response cache: bytes with a TTL in Redis, a miss when Redis does not answer."""

from __future__ import annotations

import logging
import time

from support.dead_endpoints import closed_port

from otel_agentops.policies import state
from otel_agentops.policies.shared.backend import METRIC_STATE_FALLBACKS, STATE_OPERATION


def test_shared_store_round_trip_with_ttl(shared_state):
    store = state.shared_store()
    assert store is not None
    assert store.get("k1") is None
    store.set("k1", b"\x00response bytes\xff", 30)
    assert store.get("k1") == b"\x00response bytes\xff"
    client = shared_state.client()
    assert client.keys("*") == [b"agentops:cache:k1"]
    assert 0 < client.pttl("agentops:cache:k1") <= 30_000


def test_entries_expire(shared_state):
    store = state.shared_store()
    store.set("short", b"x", 0.05)
    deadline = time.monotonic() + 5
    while store.get("short") is not None:
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_store_on_an_explicit_url(redis_server, fresh_backends, monkeypatch):
    monkeypatch.delenv("OTEL_AGENTOPS_STATE_URL", raising=False)
    redis_server.client().flushdb()
    assert state.shared_store() is None
    store = state.redis_store(redis_server.url)
    store.set("k2", b"v", 10)
    assert redis_server.client().get("agentops:cache:k2") == b"v"
    assert store.get("k2") == b"v"


def test_malformed_store_url_is_reported_under_its_variable(fresh_backends, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops")
    assert state.redis_store("redis://:hunter2@cache-host:port/0") is None
    assert [r.getMessage() for r in caplog.records] == [
        "otel-agentops: ignoring OTEL_AGENTOPS_CACHE='redis://:***@cache-host:port/0': expected "
        "redis://[[user]:password@]host[:port][/db] or rediss://... (TLS); using the default "
        "(no shared store)"
    ]


def test_redis_down_is_a_miss(fresh_backends, telemetry, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops")
    state_url = f"redis://127.0.0.1:{closed_port()}/0"
    store = state.redis_store(state_url)
    state.bind_meter(telemetry.meter_provider.get_meter("otel_agentops"))
    store.set("k", b"v", 10)
    assert store.get("k") is None
    points = telemetry.metric_points(METRIC_STATE_FALLBACKS)
    assert {p.attributes[STATE_OPERATION]: p.value for p in points} == {"cache.set": 1, "cache.get": 1}
    assert len(caplog.records) == 1
