"""The shortcuts the idle path takes (every policy configured, none triggered) reach the same state as the
general path: rate-limit reservations, the per-(provider, model) memo, the twin without SDK retries."""

from __future__ import annotations

import random

import openai
import pytest

from otel_agentops.config.policies import PolicySet, PolicySettings, RateLimitSettings, RetrySettings, load
from otel_agentops.policies import chain as chain_module
from otel_agentops.policies.chain import PolicyChain
from otel_agentops.policies.errors import RateLimitExceeded
from otel_agentops.policies.ratelimit import RateLimiter, _Window
from otel_agentops.policies.rebind import with_client_options, without_sdk_retries
from otel_agentops.policies.retry import RetryPolicy


class _GeneralWindow(_Window):
    """A window that never takes the idle shortcut, so every reservation goes through `earliest` and
    `reserve`."""

    __slots__ = ()

    def free_now(self, amount: float, now: float) -> bool:
        return False


def _general(limiter: RateLimiter) -> RateLimiter:
    for name in ("_requests", "_tokens"):
        window = getattr(limiter, name)
        if window is not None:
            setattr(limiter, name, _GeneralWindow(window.limit, window.merge))
    return limiter


def _state(limiter: RateLimiter) -> list[tuple[float, list[tuple[float, float, bool]]] | None]:
    return [
        None if window is None else (window.total, [(e.time, e.amount, e.live) for e in window.entries])
        for window in (limiter._requests, limiter._tokens)
    ]


@pytest.mark.parametrize(
    "settings",
    [
        RateLimitSettings(rpm=30, tpm=2000, max_wait=1e9),
        RateLimitSettings(rpm=30, max_wait=1e9),
        RateLimitSettings(tpm=500, max_wait=1e9),
        RateLimitSettings(rpm=1e8, tpm=1e11),
        RateLimitSettings(rpm=20, tpm=1000, mode="raise"),
    ],
)
@pytest.mark.parametrize("seed", range(5))
def test_idle_shortcut_reserves_as_the_general_path(settings, seed):
    rng = random.Random(seed)
    fast, general = RateLimiter("k", settings), _general(RateLimiter("k", settings))
    now = 1000.0
    for _ in range(400):
        # Bursts closer than the merge interval, pauses long enough for entries to leave the window.
        now += rng.choice([0.0, 0.01, 0.05, 0.2, 1.0, 7.0, 61.0])
        tokens = rng.choice([0, 1, 40, 300, 900])
        used = rng.randrange(0, 600) if rng.random() < 0.7 else None
        outcomes = []
        for limiter in (fast, general):
            try:
                reservation = limiter.acquire(tokens, now)
            except RateLimitExceeded as exc:
                outcomes.append(("refused", exc.wait))
                continue
            outcomes.append((reservation.wait, reservation.tracks_tokens))
            if used is not None:
                reservation.settle(used)
        assert outcomes[0] == outcomes[1]
        assert _state(fast) == _state(general)


def test_idle_shortcut_is_taken_while_the_limits_are_far_off():
    limiter = RateLimiter("k", RateLimitSettings(rpm=1e8, tpm=1e11))
    first = limiter.acquire(10, 1000.0)
    second = limiter.acquire(20, 1000.01)
    assert (first.wait, second.wait) == (0.0, 0.0)
    assert len(limiter._tokens.entries) == len(limiter._requests.entries) == 1
    assert limiter._tokens.total == 30 and limiter._requests.total == 2
    second.settle(5)
    assert limiter._tokens.total == 15


def _chain(**env: str) -> PolicyChain:
    from opentelemetry.metrics import NoOpMeter

    return PolicyChain(load(env), NoOpMeter("test"))


class _Call:
    provider = "openai"

    def __init__(self, port: int = 443) -> None:
        self.metric_attributes = {"server.address": "api.openai.com", "server.port": port}


def test_memo_names_the_chain_own_breakers_limiters_and_retry_policies(monkeypatch):
    chain = _chain(
        OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="3",
        OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD="2",
        OTEL_AGENTOPS_RATE_LIMIT_RPM="60",
    )
    resolved = chain._resolved("openai", "gpt-4o")
    assert resolved.policies is chain.settings.resolve("openai", "gpt-4o")
    assert isinstance(resolved.retry, RetryPolicy) and resolved.retry is chain._retry(resolved.policies)
    assert chain._resolved("openai", "gpt-4o") is resolved
    breaker = chain._breaker_of(_Call(), "gpt-4o", resolved)
    assert breaker is chain._breakers["openai|api.openai.com:443|gpt-4o"]
    assert chain._breaker_of(_Call(8443), "gpt-4o", resolved) is not breaker
    # Forgetting the memo forgets no state: the same breaker comes back.
    monkeypatch.setattr(chain_module, "RESOLVED_MEMO", 1)
    chain._resolved("openai", "other")
    again = chain._resolved("openai", "gpt-4o")
    assert again is not resolved and len(chain._memo) == 1
    assert chain._breaker_of(_Call(), "gpt-4o", again) is breaker


def test_memo_keeps_the_policies_each_model_resolves_to():
    chain = _chain(OTEL_AGENTOPS_FALLBACK_MODELS="a>b")
    plain = chain._resolved("openai", None)
    assert plain.retry is None and not plain.use_breaker and not plain.rate_limited
    assert plain.policies is chain.settings.resolve("openai", None) and not plain.policies.enabled
    assert chain._resolved("openai", "a").policies == PolicySettings().resolve("openai", "a")


def _resource(max_retries: int) -> tuple[object, object]:
    client = openai.OpenAI(api_key="sk-test", base_url="http://127.0.0.1:9", max_retries=max_retries)
    resource = client.chat.completions
    return resource.create, resource


def test_without_sdk_retries_is_with_client_options_max_retries_0():
    wrapped, resource = _resource(2)
    twin = without_sdk_retries(wrapped, resource)
    assert twin == with_client_options(wrapped, resource, max_retries=0)
    assert twin.__self__._client.max_retries == 0
    assert without_sdk_retries(wrapped, resource).__self__ is twin.__self__  # made once, then found


def test_without_sdk_retries_leaves_a_client_that_does_not_retry_alone():
    wrapped, resource = _resource(0)
    assert without_sdk_retries(wrapped, resource) is wrapped
    assert without_sdk_retries(len, object()) is len  # not an SDK resource


def test_without_sdk_retries_on_a_resource_it_cannot_remember(monkeypatch):
    class Client:
        max_retries = 2

        def with_options(self, **options):
            raise AssertionError("not reached: the resource cannot be remembered")

    class Resource:
        __slots__ = ("_client",)  # no __weakref__

        def __init__(self):
            self._client = Client()

        def create(self):
            return "sent"

    resource = Resource()
    reported = []
    monkeypatch.setattr("otel_agentops.policies.rebind.report_internal_error", lambda *a: reported.append(a))
    assert without_sdk_retries(resource.create, resource) == resource.create
    assert len(reported) == 1


def test_retry_policy_follows_the_settings_not_a_reused_id():
    # Resolved settings are rebuilt after eviction; each one here is freed before the next is made, so
    # CPython hands the next the same address. A memo keyed by id() answered with the first policy.
    chain = _chain()
    for attempts in range(2, 30):
        policies = PolicySet(retry=RetrySettings(max_attempts=attempts, jitter=False))
        assert chain._retry(policies).max_attempts == attempts
        del policies
