"""Anthropic's `messages.stream()` manager under the policies: it sends on enter, and so do they.

Real anthropic SDK against the fake provider. Each attempt enters a fresh manager, so a failure to open
the stream is retried, counted by the breaker, rate limited or falls back before the app gets the stream;
a failure after that is the app's, never retried.
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from support.cycles import left_in_cycles

import otel_agentops
from otel_agentops.fake_provider import FakeProvider, Fault
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv

MODEL = "claude-haiku-4-5"
FALLBACK = "claude-sonnet-4-6"
USER = [{"role": "user", "content": "Where is order ORD-1042?"}]
TEXT = "one two three four five six seven eight"
KINDS = ["sync", "async"]
RETRY = {
    "OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "3",
    "OTEL_AGENTOPS_RETRY_BASE_DELAY": "0.5",
    "OTEL_AGENTOPS_RETRY_JITTER": "false",
}


@pytest.fixture
async def sdk() -> AsyncIterator[Callable[..., Any]]:
    """sdk(fake, kind, **options): a client with the SDK's default max_retries (2) unless told, since our
    retry must switch it off, not multiply with it; closed on the test's own event loop."""
    made: list[Any] = []

    def make(fake: Any, kind: str, **options: Any) -> Any:
        cls = anthropic.AsyncAnthropic if kind == "async" else anthropic.Anthropic
        made.append(cls(api_key="sk-ant-test", base_url=fake.anthropic_base_url, **options))
        return made[-1]

    yield make
    for llm in made:
        closed = llm.close()
        if closed is not None:
            await closed


async def final_text(llm: Any, kind: str, resource: str = "messages", model: str = MODEL) -> str:
    """`messages.stream()` used the documented way; the text of the final message."""
    messages = llm.beta.messages if resource == "beta" else llm.messages
    manager = messages.stream(model=model, max_tokens=256, messages=USER)
    if kind == "async":
        async with manager as stream:
            assert type(stream) is (
                anthropic.lib.streaming.BetaAsyncMessageStream
                if resource == "beta"
                else anthropic.lib.streaming.AsyncMessageStream
            )
            text = await stream.get_final_text()
            assert "".join([t async for t in stream.text_stream]) == ""  # consumed once, as the SDK's
            return text  # type: ignore[no-any-return]
    with manager as stream:
        assert type(stream) is (
            anthropic.lib.streaming.BetaMessageStream
            if resource == "beta"
            else anthropic.lib.streaming.MessageStream
        )
        return stream.get_final_text()  # type: ignore[no-any-return]


def retry_events(span: Any) -> list[dict[str, Any]]:
    return [dict(e.attributes) for e in span.events if e.name == "agentops.retry"]


@pytest.mark.parametrize("kind", KINDS)
async def test_529_then_success_is_two_requests_and_one_span(sdk, kind, fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=529), times=1)
    fake_provider.script(Reply(text=TEXT, input_tokens=40, output_tokens=8))
    llm = sdk(fake_provider, kind)
    manager = llm.messages.stream(model=MODEL, max_tokens=256, messages=USER)
    assert fake_provider.request_count() == 0  # still sent on enter, not when the manager is made
    streaming = anthropic.lib.streaming
    assert isinstance(manager, (streaming.MessageStreamManager, streaming.AsyncMessageStreamManager))

    if kind == "async":
        async with manager as stream:
            message = await stream.get_final_message()
    else:
        with manager as stream:
            message = stream.get_final_message()

    assert message.content[0].text == TEXT
    assert fake_provider.request_count("/v1/messages") == 2  # not 2 x 3 with the SDK's own retries
    span = telemetry.span()
    assert span.name == f"chat {MODEL}"
    assert span.status.status_code.name == "UNSET"
    attributes = dict(span.attributes)
    assert attributes.pop(semconv.RESPONSE_TIME_TO_FIRST_CHUNK) > 0
    assert attributes.pop(semconv.RESPONSE_ID).startswith("msg_fake")
    assert attributes.pop(semconv.USAGE_COST) > 0
    assert attributes == {
        semconv.OPERATION_NAME: "chat",
        semconv.PROVIDER_NAME: "anthropic",
        semconv.REQUEST_MODEL: MODEL,
        semconv.SERVER_ADDRESS: "127.0.0.1",
        semconv.SERVER_PORT: fake_provider.port,
        semconv.REQUEST_MAX_TOKENS: 256,
        semconv.REQUEST_STREAM: True,
        semconv.RESPONSE_MODEL: MODEL,
        semconv.RESPONSE_FINISH_REASONS: ("end_turn",),
        semconv.USAGE_INPUT_TOKENS: 40,
        semconv.USAGE_OUTPUT_TOKENS: 8,
        semconv.RETRY_ATTEMPTS: 2,
    }
    assert retry_events(span) == [
        {
            "agentops.retry.attempt": 1,
            "agentops.retry.delay": 0.5,
            semconv.ERROR_TYPE: "anthropic.OverloadedError",
        }
    ]
    assert clock.sleeps == [0.5]
    [retries] = telemetry.metric_points(semconv.METRIC_RETRY_ATTEMPTS)
    assert retries.value == 1
    assert dict(retries.attributes) == {
        semconv.PROVIDER_NAME: "anthropic",
        semconv.REQUEST_MODEL: MODEL,
        semconv.ERROR_TYPE: "anthropic.OverloadedError",
    }
    [duration] = telemetry.metric_points(semconv.METRIC_OPERATION_DURATION)
    assert duration.count == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_text_stream_and_events_after_a_429(sdk, kind, fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=429, retry_after="2"), times=1)
    fake_provider.script(Reply(text=TEXT))
    llm = sdk(fake_provider, kind)
    manager = llm.messages.stream(model=MODEL, max_tokens=256, messages=USER)
    if kind == "async":
        async with manager as stream:
            text = "".join([t async for t in stream.text_stream])
            final = await stream.get_final_message()
    else:
        with manager as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
    assert text == TEXT
    assert final.content[0].text == TEXT
    assert fake_provider.request_count() == 2
    assert clock.sleeps == [2.0]  # the server's Retry-After, as for create(stream=True)
    span = telemetry.span()
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 2
    assert span.attributes[semconv.RESPONSE_FINISH_REASONS] == ("end_turn",)
    assert [e[semconv.ERROR_TYPE] for e in retry_events(span)] == ["anthropic.RateLimitError"]


async def _enter(manager: Any, kind: str) -> None:
    """Enters `manager` as the app would; its block must not run (entering is expected to raise)."""
    if kind == "async":
        async with manager:
            pytest.fail("the block must not run")
    else:
        with manager:
            pytest.fail("the block must not run")


@pytest.mark.parametrize("kind", KINDS)
async def test_attempts_bound_the_requests_and_the_error_is_raised_on_enter(
    sdk, kind, fake_provider, instrument, clock
):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=503), times=None)
    llm = sdk(fake_provider, kind)
    manager = llm.messages.stream(model=MODEL, max_tokens=256, messages=USER)
    with pytest.raises(anthropic.ServiceUnavailableError):
        await _enter(manager, kind)
    assert fake_provider.request_count() == 3
    assert clock.sleeps == [0.5, 1.0]
    span = telemetry.span()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "anthropic.ServiceUnavailableError"
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 3
    assert [e["agentops.retry.attempt"] for e in retry_events(span)] == [1, 2]


@pytest.mark.parametrize("kind", KINDS)
async def test_a_stream_cut_after_it_was_handed_over_is_not_retried(
    sdk, kind, fake_provider, instrument, clock
):
    telemetry = instrument(**RETRY)
    fake_provider.script(Reply(text=TEXT))
    fake_provider.add_fault(Fault(cut_stream_after=4), times=1)
    llm = sdk(fake_provider, kind)
    with pytest.raises(httpx2.RemoteProtocolError):
        await final_text(llm, kind)
    assert fake_provider.request_count() == 1
    assert clock.sleeps == []
    span = telemetry.span()
    assert span.attributes[semconv.ERROR_TYPE] == "httpx2.RemoteProtocolError"
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_beta_stream_is_retried(sdk, kind, fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=529), times=1)
    fake_provider.script(Reply(text=TEXT))
    assert await final_text(sdk(fake_provider, kind), kind, resource="beta") == TEXT
    assert fake_provider.request_count() == 2
    assert telemetry.span().attributes[semconv.RETRY_ATTEMPTS] == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_fallback_after_retries_are_exhausted(sdk, kind, fake_provider, instrument, clock):
    telemetry = instrument(
        OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS="2",
        OTEL_AGENTOPS_RETRY_BASE_DELAY="0",
        OTEL_AGENTOPS_RETRY_JITTER="false",
        OTEL_AGENTOPS_FALLBACK_MODELS=f"{MODEL}>{FALLBACK}",
    )
    fake_provider.add_fault(Fault(status=529), times=None, model=MODEL)
    fake_provider.script(Reply(text="from the fallback", input_tokens=10, output_tokens=3), model=FALLBACK)

    assert await final_text(sdk(fake_provider, kind), kind) == "from the fallback"

    assert [r.model for r in fake_provider.requests] == [MODEL, MODEL, FALLBACK]
    span = telemetry.span()
    assert span.name == f"chat {MODEL}"
    assert span.status.status_code.name == "UNSET"
    assert span.attributes[semconv.REQUEST_MODEL] == MODEL
    assert span.attributes[semconv.FALLBACK_MODEL] == FALLBACK
    assert span.attributes[semconv.RESPONSE_MODEL] == FALLBACK
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 1  # the fallback model's own attempts
    assert span.attributes[semconv.USAGE_INPUT_TOKENS] == 10
    assert span.attributes[semconv.USAGE_OUTPUT_TOKENS] == 3
    [fallback] = [e for e in span.events if e.name == "agentops.fallback"]
    assert dict(fallback.attributes) == {
        "agentops.fallback.from": MODEL,
        "agentops.fallback.to": FALLBACK,
        semconv.ERROR_TYPE: "anthropic.OverloadedError",
    }
    [calls] = telemetry.metric_points(semconv.METRIC_FALLBACKS)
    assert calls.value == 1


@pytest.mark.parametrize("kind", KINDS)
async def test_open_breaker_rejects_on_enter_without_a_request(sdk, kind, fake_provider, instrument, clock):
    telemetry = instrument(
        OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD="1", OTEL_AGENTOPS_CIRCUIT_BREAKER_RESET_TIMEOUT="30"
    )
    fake_provider.add_fault(Fault(status=529), times=1)
    llm = sdk(fake_provider, kind, max_retries=0)
    with pytest.raises(anthropic.OverloadedError):
        await final_text(llm, kind)
    assert fake_provider.request_count() == 1

    manager = llm.messages.stream(model=MODEL, max_tokens=256, messages=USER)  # making it sends nothing
    with pytest.raises(otel_agentops.CircuitOpenError) as rejected:
        await _enter(manager, kind)
    assert fake_provider.request_count() == 1  # rejected without a request
    assert rejected.value.retry_in == 30
    first, second = telemetry.spans()
    assert first.attributes[semconv.ERROR_TYPE] == "anthropic.OverloadedError"
    assert second.status.status_code.name == "ERROR"
    assert second.attributes[semconv.ERROR_TYPE] == "otel_agentops.CircuitOpenError"
    [event] = [e for e in second.events if e.name == "agentops.circuit_breaker.rejected"]
    assert dict(event.attributes) == {
        semconv.POLICY_KEY: f"anthropic|127.0.0.1:{fake_provider.port}|{MODEL}",
        "agentops.circuit_breaker.retry_in": 30.0,
    }

    clock.now += 30  # half-open: the next stream is the probe, and closes it
    fake_provider.script(Reply(text=TEXT))
    assert await final_text(llm, kind) == TEXT
    assert fake_provider.request_count() == 2


@pytest.mark.parametrize("kind", KINDS)
async def test_rate_limit_waits_before_the_stream_is_sent(sdk, kind, fake_provider, instrument, clock):
    telemetry = instrument(OTEL_AGENTOPS_RATE_LIMIT_RPM="1", OTEL_AGENTOPS_RATE_LIMIT_MAX_WAIT="120")
    fake_provider.script(Reply(text=TEXT), times=2)
    llm = sdk(fake_provider, kind, max_retries=0)
    assert await final_text(llm, kind) == TEXT
    assert await final_text(llm, kind) == TEXT
    assert clock.sleeps == [60.0]
    assert fake_provider.request_count() == 2
    first, second = telemetry.spans()
    assert [e.name for e in first.events] == []
    [wait] = [e for e in second.events if e.name == "agentops.rate_limit.wait"]
    assert dict(wait.attributes) == {
        semconv.POLICY_KEY: f"anthropic|{MODEL}",
        "agentops.rate_limit.wait": 60.0,
    }


async def test_rate_limit_refusal_is_raised_on_enter(sdk, fake_provider, instrument, clock):
    telemetry = instrument(OTEL_AGENTOPS_RATE_LIMIT_RPM="1", OTEL_AGENTOPS_RATE_LIMIT_MODE="raise")
    fake_provider.script(Reply(text=TEXT))
    llm = sdk(fake_provider, "sync", max_retries=0)
    assert await final_text(llm, "sync") == TEXT
    manager = llm.messages.stream(model=MODEL, max_tokens=256, messages=USER)
    with pytest.raises(otel_agentops.RateLimitExceeded) as refused, manager:
        pytest.fail("the block must not run")
    assert refused.value.wait == 60
    assert fake_provider.request_count() == 1
    assert telemetry.spans()[-1].attributes[semconv.ERROR_TYPE] == "otel_agentops.RateLimitExceeded"


@pytest.mark.parametrize("kind", KINDS)
async def test_streams_bypass_the_cache(sdk, kind, fake_provider, instrument, clock):
    telemetry = instrument(OTEL_AGENTOPS_CACHE="memory")
    fake_provider.script(Reply(text=TEXT), times=2)
    llm = sdk(fake_provider, kind, max_retries=0)
    assert await final_text(llm, kind) == TEXT
    assert await final_text(llm, kind) == TEXT
    assert fake_provider.request_count() == 2
    for span in telemetry.spans():
        assert span.attributes[semconv.CACHE_BYPASS] == "stream"
        assert semconv.CACHE_HIT not in span.attributes
    [bypasses] = telemetry.metric_points(semconv.METRIC_CACHE_BYPASSES)
    assert bypasses.value == 2


async def test_async_retries_leave_no_unawaited_request(sdk, fake_provider, instrument, clock):
    """The manager the app holds is never entered under the policies; its request must not warn."""
    instrument(**RETRY)
    fake_provider.add_fault(Fault(status=529), times=1)
    fake_provider.script(Reply(text=TEXT))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert await final_text(sdk(fake_provider, "async"), "async") == TEXT
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


async def test_a_never_entered_manager_sends_nothing_and_ends_once(sdk, fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    manager = sdk(fake_provider, "sync").messages.stream(model=MODEL, max_tokens=256, messages=USER)
    del manager
    gc.collect()
    assert fake_provider.request_count() == 0
    assert telemetry.span().attributes[semconv.STREAM_ABANDONED] is True


async def test_no_policy_configured_enters_the_apps_own_manager(sdk, fake_provider, instrument):
    """Off means off: the manager the app holds is the one that sends, exactly once, without retries."""
    telemetry = instrument()
    fake_provider.add_fault(Fault(status=529), times=1)
    llm = sdk(fake_provider, "sync", max_retries=0)
    manager = llm.messages.stream(model=MODEL, max_tokens=256, messages=USER)
    assert isinstance(manager, anthropic.lib.streaming.MessageStreamManager)
    with pytest.raises(anthropic.OverloadedError), manager:
        pytest.fail("the block must not run")
    assert fake_provider.request_count() == 1
    span = telemetry.span()
    assert semconv.RETRY_ATTEMPTS not in span.attributes
    assert [e.name for e in span.events] == []


async def test_a_retried_stream_leaves_no_cycle(sdk, fake_provider, instrument, clock):
    instrument(**RETRY)
    fake_provider.add_fault(Fault(status=529), times=1)
    fake_provider.script(Reply(text=TEXT))
    llm = sdk(fake_provider, "sync")

    def run() -> None:
        with llm.messages.stream(model=MODEL, max_tokens=256, messages=USER) as stream:
            assert stream.get_final_text() == TEXT

    assert left_in_cycles(run) == []


@pytest.fixture
def second() -> Iterator[FakeProvider]:
    with FakeProvider() as provider:
        yield provider


@pytest.mark.parametrize("kind", KINDS)
async def test_a_retried_attempt_goes_to_the_next_balanced_endpoint(
    sdk, kind, fake_provider, second, instrument, clock
):
    telemetry = instrument(
        **RETRY,
        OTEL_AGENTOPS_ENDPOINTS=f"{fake_provider.anthropic_base_url},{second.anthropic_base_url}",
        OTEL_AGENTOPS_LOAD_BALANCING="round_robin",
    )
    fake_provider.add_fault(Fault(status=529), times=1)
    second.script(Reply(text=TEXT))
    assert await final_text(sdk(fake_provider, kind), kind) == TEXT
    assert (fake_provider.request_count(), second.request_count()) == (1, 1)
    span = telemetry.span()
    assert span.attributes[semconv.SERVER_PORT] == second.port
    assert span.attributes[semconv.BALANCING_ENDPOINT] == second.anthropic_base_url
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 2
