"""Rate limits shared through a real Redis: one RPM limit for many processes and threads, the same sliding
window as the local limiter, token corrections seen by every process."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from support.replicas import outcomes, release, start_workers

import otel_agentops
from otel_agentops.config.policies import RateLimitSettings
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.policies import state
from otel_agentops.policies.ratelimit import WINDOW, RateLimiter
from otel_agentops.policies.shared.backend import backend
from otel_agentops.policies.shared.ratelimit import SharedRateLimiter

USER = [{"role": "user", "content": "hi"}]
KEY = "openai|gpt-4o-mini"
REQUESTS = f"agentops:rl:{{{KEY}}}:requests"


def test_4_processes_x_4_threads_respect_one_rpm_limit(shared_state, fake_provider):
    workers = start_workers(
        fake_provider,
        shared_state.url,
        4,
        4,
        3,
        OTEL_AGENTOPS_RATE_LIMIT_RPM="20",
        OTEL_AGENTOPS_RATE_LIMIT_MODE="raise",
    )
    assert outcomes(release(workers)) == {"ok": 20, "RateLimitExceeded": 28}
    assert fake_provider.request_count() == 20
    assert shared_state.client().zcard(REQUESTS) == 20


def test_wait_mode_across_processes_takes_the_earliest_slots_in_order(shared_state, fake_provider):
    """The window is full of reservations made 55.5-57 s ago: 4 replicas each wait for the next slot to
    free (3 to 4.5 s), each takes a different one, in order; a 5th call would wait a minute and is refused."""
    settings = {"OTEL_AGENTOPS_RATE_LIMIT_RPM": "4", "OTEL_AGENTOPS_RATE_LIMIT_MAX_WAIT": "10"}
    workers = start_workers(fake_provider, shared_state.url, 4, 1, 1, **settings)
    client = shared_state.client()
    now = shared_state.now()
    seeds = [now - 57.0, now - 56.5, now - 56.0, now - 55.5]
    client.zadd(REQUESTS, {f"seed-{index}": at for index, at in enumerate(seeds)})
    assert outcomes(release(workers)) == {"ok": 4}
    assert fake_provider.request_count() == 4
    reserved = [at for member, at in client.zrange(REQUESTS, 0, -1, withscores=True) if b"seed" not in member]
    assert reserved == [at + WINDOW for at in seeds]

    limiter = SharedRateLimiter(
        KEY, RateLimitSettings(rpm=4, max_wait=10), backend(shared_state.url, "agentops:")
    )
    with pytest.raises(otel_agentops.RateLimitExceeded) as refused:
        limiter.acquire(0, 0.0)
    assert 10 < refused.value.wait <= 60  # over max_wait
    assert client.zcard(REQUESTS) == 4  # the seeds left the window; refused: nothing reserved


def test_threads_on_4_limiters_reserve_in_lock_step(shared_state):
    """Four limiters (as four processes would have) in wait mode: the 6th reservation and every later one
    is exactly 60 s after the one 5 places before it (Redis' clock), so no 60 s span holds more than 5."""
    shared = backend(shared_state.url, "agentops:")
    limiters = [SharedRateLimiter(KEY, RateLimitSettings(rpm=5, max_wait=1000), shared) for _ in range(4)]
    barrier = threading.Barrier(8)

    def worker(index):
        barrier.wait()
        return [limiters[index % 4].acquire(0, 0.0).wait for _ in range(5)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        waits = [wait for result in pool.map(worker, range(8)) for wait in result]
    times = [at for _, at in shared_state.client().zrange(REQUESTS, 0, -1, withscores=True)]
    assert len(times) == 40
    assert sum(1 for wait in waits if wait == 0) == 5
    assert all(times[index] == times[index - 5] + WINDOW for index in range(5, 40))


def test_token_window_uses_the_estimate_then_the_real_usage(shared_state):
    """The local limiter's test, on Redis: same sliding window, same FIFO order."""
    shared = backend(shared_state.url, "agentops:")
    settings = RateLimitSettings(tpm=1000, max_wait=10_000)
    first_process, second_process = (
        SharedRateLimiter(KEY, settings, shared),
        SharedRateLimiter(KEY, settings, shared),
    )
    first = first_process.acquire(800, 0.0)
    assert first.wait == 0
    assert first.tracks_tokens
    second = second_process.acquire(300, 0.0)  # 800 + 300 > 1000 until the first expires
    first.settle(100)  # the call used far less than estimated
    third = first_process.acquire(300, 0.0)  # still behind the earlier reservation (FIFO)
    assert 59 < second.wait <= 60
    client = shared_state.client()
    times = [at for _, at in client.zrange(f"agentops:rl:{{{KEY}}}:tokens", 0, -1, withscores=True)]
    assert times[1] == times[0] + WINDOW
    assert times[2] == times[1]  # 300 + 300 fit once the first left the window
    amounts = client.hgetall(f"agentops:rl:{{{KEY}}}:amounts")
    assert sorted(int(amount) for amount in amounts.values()) == [100, 300, 300]
    assert float(client.hget(f"agentops:rl:{{{KEY}}}:meta", "tokens")) == 700
    assert third.wait > 0


def test_matches_the_local_limiter_on_the_same_clock(shared_state):
    """Every reservation lands where the local limiter puts it, fed Redis' own time: same algorithm."""
    shared = backend(shared_state.url, "agentops:")
    settings = RateLimitSettings(rpm=3, tpm=1000, max_wait=10_000)
    remote, local = SharedRateLimiter(KEY, settings, shared), RateLimiter(KEY, settings, merge=0.0)
    client = shared_state.client()
    for amount in (400, 400, 300, 900, 50, 1200, 10):
        reservation = remote.acquire(amount, 0.0)
        [(_, at)] = client.zrange(f"agentops:rl:{{{KEY}}}:tokens", -1, -1, withscores=True)
        now = at - reservation.wait  # the Redis time the script ran at
        expected = local.acquire(amount, now)
        assert now + expected.wait == pytest.approx(at, abs=1e-6)


def test_sdk_calls_settle_tokens_in_redis(shared_state, fake_provider, instrument):
    instrument(OTEL_AGENTOPS_RATE_LIMIT_TPM="10000")
    fake_provider.script(Reply(text="ok", input_tokens=10, output_tokens=3))
    llm = openai.OpenAI(api_key="x", base_url=fake_provider.openai_base_url, max_retries=0)
    llm.chat.completions.create(model="gpt-4o-mini", messages=USER, max_tokens=500)
    client = shared_state.client()
    assert list(client.hgetall(f"agentops:rl:{{{KEY}}}:amounts").values()) == [b"13"]
    assert float(client.hget(f"agentops:rl:{{{KEY}}}:meta", "tokens")) == 13
    assert 0 < client.ttl(f"agentops:rl:{{{KEY}}}:tokens") <= 61


def test_prefix_is_configurable(shared_state, fake_provider, instrument, monkeypatch):
    monkeypatch.setenv("OTEL_AGENTOPS_STATE_PREFIX", "tenant-a:")
    instrument(OTEL_AGENTOPS_RATE_LIMIT_RPM="10")
    openai.OpenAI(api_key="x", base_url=fake_provider.openai_base_url, max_retries=0).chat.completions.create(
        model="gpt-4o-mini", messages=USER
    )
    assert sorted(shared_state.client().keys("*")) == [
        f"tenant-a:rl:{{{KEY}}}:meta".encode(),
        f"tenant-a:rl:{{{KEY}}}:requests".encode(),
    ]


def test_local_state_without_a_url(fresh_backends, monkeypatch):
    monkeypatch.delenv("OTEL_AGENTOPS_STATE_URL", raising=False)
    assert type(state.rate_limiter(KEY, RateLimitSettings(rpm=1))) is RateLimiter
    assert state.shared_store() is None


def test_nothing_of_redis_is_imported_until_used():
    script = (
        "import sys\n"
        "from otel_agentops.config.policies import RateLimitSettings\n"
        "from otel_agentops.policies import state\n"
        "local = state.rate_limiter('k', RateLimitSettings(rpm=1))\n"
        "before = ('otel_agentops.policies.shared' in sys.modules, 'redis' in sys.modules)\n"
        "import os; os.environ['OTEL_AGENTOPS_STATE_URL'] = 'redis://127.0.0.1:1/0'\n"
        "shared = state.rate_limiter('k', RateLimitSettings(rpm=1))\n"
        "print(before, 'redis' in sys.modules, type(shared).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split("\n")[0] == "(False, False) False SharedRateLimiter"


async def test_async_calls_share_the_limit(shared_state, fake_provider, instrument):
    instrument(OTEL_AGENTOPS_RATE_LIMIT_RPM="2", OTEL_AGENTOPS_RATE_LIMIT_MODE="raise")
    llm = openai.AsyncOpenAI(api_key="x", base_url=fake_provider.openai_base_url, max_retries=0)
    await llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    await llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    with pytest.raises(otel_agentops.RateLimitExceeded):
        await llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() == 2
    assert shared_state.client().zcard(REQUESTS) == 2
