from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.redis_server import RedisServer

from otel_agentops.policies import clock as clock_module
from otel_agentops.policies.shared import backend as backend_module


class FakeClock:
    """Virtual time: sleeps advance it instantly and are recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(clock_module, "CLOCK", fake)
    return fake


# ---------------------------------------------------------------- shared state (a real redis-server)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session on a free loopback port; skipped without redis-server (not in CI)."""
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """No connection, back-off or fallback counter carried over from another test."""
    monkeypatch.setattr(backend_module, "_backends", {})
    monkeypatch.setattr(backend_module, "FALLBACKS", backend_module._Fallbacks())


@pytest.fixture
def shared_state(
    redis_server: RedisServer, fresh_backends: None, monkeypatch: pytest.MonkeyPatch
) -> RedisServer:
    """OTEL_AGENTOPS_STATE_URL on the session's server, its database emptied first."""
    redis_server.client().flushdb()
    monkeypatch.setenv("OTEL_AGENTOPS_STATE_URL", redis_server.url)
    return redis_server
