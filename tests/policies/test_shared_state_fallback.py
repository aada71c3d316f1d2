"""Redis unavailable (at start, mid-run, hanging, malformed URL, redis-py missing): the calls go through on
this process's own state, one WARNING (password masked), `agentops.state.fallbacks` counted, never an
exception into the app; when Redis is back the state is shared again."""

from __future__ import annotations

import logging
import socket
import sys
import threading

import openai
import pytest
from support.dead_endpoints import BlackHole, closed_port
from support.redis_server import RedisServer

import otel_agentops
from otel_agentops.config import state as state_config
from otel_agentops.config.policies import RateLimitSettings
from otel_agentops.policies import state
from otel_agentops.policies.ratelimit import RateLimiter
from otel_agentops.policies.shared.backend import METRIC_STATE_FALLBACKS, STATE_OPERATION

USER = [{"role": "user", "content": "hi"}]
REQUESTS = "agentops:rl:{openai|gpt-4o-mini}:requests"
RAISE_AT_3 = {"OTEL_AGENTOPS_RATE_LIMIT_RPM": "3", "OTEL_AGENTOPS_RATE_LIMIT_MODE": "raise"}


def call(fake):
    llm = openai.OpenAI(api_key="x", base_url=fake.openai_base_url, max_retries=0)
    return llm.chat.completions.create(model="gpt-4o-mini", messages=USER)


def shared_instrument(instrument, url, **settings):
    telemetry = instrument(OTEL_AGENTOPS_STATE_URL=url, **settings)
    state.bind_meter(telemetry.meter_provider.get_meter("otel_agentops"))
    return telemetry


def fallbacks(telemetry):
    return {p.attributes[STATE_OPERATION]: p.value for p in telemetry.metric_points(METRIC_STATE_FALLBACKS)}


def warnings(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_unreachable_at_start_runs_on_local_state(fresh_backends, fake_provider, instrument, clock, caplog):
    caplog.set_level(logging.INFO, logger="otel_agentops")
    port = closed_port()
    telemetry = shared_instrument(instrument, f"redis://:s3cret@127.0.0.1:{port}/0", **RAISE_AT_3)
    for _ in range(3):
        call(fake_provider)
    with pytest.raises(otel_agentops.RateLimitExceeded):  # this process's own limit of 3
        call(fake_provider)
    assert fake_provider.request_count() == 3
    [warning] = warnings(caplog)
    assert f"shared policy state at redis://:***@127.0.0.1:{port}/0 unavailable (ConnectionError: " in warning
    assert "using this process's own state" in warning
    assert "s3cret" not in caplog.text
    assert fallbacks(telemetry) == {"rate_limit.acquire": 4}


def test_outage_mid_run_then_shared_again(fresh_backends, tmp_path, fake_provider, instrument, clock, caplog):
    caplog.set_level(logging.INFO, logger="otel_agentops")
    server = RedisServer(tmp_path, password="s3cret").start()
    try:
        telemetry = shared_instrument(
            instrument, server.url, OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD="5", **RAISE_AT_3
        )
        call(fake_provider)
        assert server.client().zcard(REQUESTS) == 1
        assert warnings(caplog) == []

        server.stop()
        for _ in range(3):
            call(fake_provider)  # local state: this process's limit of 3, knowing nothing of the shared call
        with pytest.raises(otel_agentops.RateLimitExceeded):
            call(fake_provider)
        [warning] = warnings(caplog)
        assert f"redis://:***@127.0.0.1:{server.port}/0 unavailable (ConnectionError: " in warning
        assert "s3cret" not in caplog.text
        assert fallbacks(telemetry) == {
            "circuit_breaker.before_call": 4,
            "rate_limit.acquire": 4,
            "circuit_breaker.on_success": 3,
        }

        server.start()  # same port, empty (no persistence)
        clock.now += 1.5  # past the first back-off (1 s): the next operation tries Redis again
        call(fake_provider)
        assert server.client().zcard(REQUESTS) == 1  # shared again
        assert fallbacks(telemetry)["rate_limit.acquire"] == 4  # nothing more fell back
        assert [r.getMessage() for r in caplog.records if r.levelno == logging.INFO] == [
            f"otel-agentops: shared policy state at redis://:***@127.0.0.1:{server.port}/0 available again"
        ]
        assert len(warnings(caplog)) == 1
        assert fake_provider.request_count() == 5
    finally:
        server.stop()


class SlammingDoor:
    """Accepts each connection and closes it at once (redis-py: ConnectionError), counting them."""

    def __init__(self):
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()

    def close(self):
        self._listener.close()


def test_redis_is_tried_again_after_a_growing_back_off(
    fresh_backends, fake_provider, instrument, clock, caplog
):
    caplog.set_level(logging.INFO, logger="otel_agentops")
    door = SlammingDoor()
    try:
        telemetry = shared_instrument(
            instrument, f"redis://127.0.0.1:{door.port}/0", OTEL_AGENTOPS_RATE_LIMIT_RPM="1000"
        )
        attempts = []
        for step in (0, 0.5, 1.0, 1.0, 0.9, 0.2, 4.5):  # back-off 1 s, then 2 s, then 4 s
            clock.now += step
            call(fake_provider)
            attempts.append(door.accepted)
    finally:
        door.close()
    assert attempts == [1, 1, 2, 2, 2, 3, 4]
    assert fallbacks(telemetry) == {"rate_limit.acquire": 7}
    assert len(warnings(caplog)) == 1  # one outage, one warning
    assert fake_provider.request_count() == 7


def test_hanging_redis_times_out_and_falls_back(fresh_backends, fake_provider, instrument, clock, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops")
    with BlackHole() as hole:
        telemetry = shared_instrument(instrument, f"redis://127.0.0.1:{hole.port}/0", **RAISE_AT_3)
        call(fake_provider)
        call(fake_provider)
        assert hole.accepted == 1  # tried once, then the back-off: no second half-second stall
    [warning] = warnings(caplog)
    assert "TimeoutError" in warning
    assert fallbacks(telemetry) == {"rate_limit.acquire": 2}
    assert fake_provider.request_count() == 2


def test_malformed_url_is_reported_and_state_is_local(fresh_backends, fake_provider, instrument, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops")
    instrument(OTEL_AGENTOPS_STATE_URL="redis://:pw@localhost:notaport/0", **RAISE_AT_3)
    call(fake_provider)
    assert warnings(caplog) == [
        "otel-agentops: ignoring OTEL_AGENTOPS_STATE_URL='redis://:***@localhost:notaport/0': expected "
        "redis://[[user]:password@]host[:port][/db] or rediss://... (TLS); using the default "
        "(local state (this process only))"
    ]
    assert type(state.rate_limiter("k", RateLimitSettings(rpm=1))) is RateLimiter
    assert fake_provider.request_count() == 1


def test_without_redis_py_the_state_is_local_for_good(
    fresh_backends, redis_server, fake_provider, instrument, clock, caplog, monkeypatch
):
    caplog.set_level(logging.WARNING, logger="otel_agentops")
    monkeypatch.setitem(sys.modules, "redis", None)  # import redis -> ImportError
    telemetry = shared_instrument(instrument, redis_server.url, **RAISE_AT_3)
    call(fake_provider)
    clock.now += 3600  # no retry: installing redis-py needs a restart anyway
    call(fake_provider)
    [warning] = warnings(caplog)
    assert "redis-py is not installed: pip install 'otel-agentops[redis]'" in warning
    assert "retrying" not in warning
    assert fallbacks(telemetry) == {"rate_limit.acquire": 2}


def test_settings_are_parsed_once_per_environment(caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops")
    env = {"OTEL_AGENTOPS_STATE_URL": "mysql://db:3306", "OTEL_AGENTOPS_STATE_PREFIX": " team-b: "}
    first, second = state_config.load(env), state_config.load(env)
    assert first == second == state_config.StateSettings(url=None, prefix="team-b:")
    assert len(caplog.records) == 1
    assert state_config.load({"OTEL_AGENTOPS_STATE_URL": "rediss://u:p@h:6380/2?socket_timeout=2"}) == (
        state_config.StateSettings(url="rediss://u:p@h:6380/2?socket_timeout=2")
    )
