"""Retry with the real SDKs against the fake provider's faults: exact request counts and telemetry."""

from __future__ import annotations

import email.utils

import openai
import pytest

from otel_agentops.fake_provider import Fault
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.genai import semconv

USER = [{"role": "user", "content": "hi"}]
RETRY = {
    "OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "4",
    "OTEL_AGENTOPS_RETRY_BASE_DELAY": "0.5",
    "OTEL_AGENTOPS_RETRY_MAX_DELAY": "8",
}


def sdk(fake, kind="sync"):
    # The SDK's default max_retries (2) on purpose: our retry must switch it off, not multiply with it.
    cls = openai.AsyncOpenAI if kind == "async" else openai.OpenAI
    return cls(api_key="sk-test", base_url=fake.openai_base_url)


async def call(llm, **kwargs):
    result = llm.chat.completions.create(model="gpt-4o-mini", messages=USER, **kwargs)
    if hasattr(result, "__await__"):
        result = await result
    return result


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_two_429_then_success_is_three_requests(kind, fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=429), times=2)
    result = await call(sdk(fake_provider, kind))

    assert result.choices[0].message.content
    assert fake_provider.request_count("/v1/chat/completions") == 3
    span = telemetry.span()
    assert span.status.status_code.name == "UNSET"
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 3
    events = [e for e in span.events if e.name == "agentops.retry"]
    assert [e.attributes["agentops.retry.attempt"] for e in events] == [1, 2]
    assert [e.attributes[semconv.ERROR_TYPE] for e in events] == ["openai.RateLimitError"] * 2
    assert [e.attributes["agentops.retry.delay"] for e in events] == clock.sleeps
    assert 0 <= clock.sleeps[0] <= 0.5 and 0 <= clock.sleeps[1] <= 1.0  # full jitter under 0.5 * 2^n
    [retries] = telemetry.metric_points(semconv.METRIC_RETRY_ATTEMPTS)
    assert retries.value == 2
    assert dict(retries.attributes) == {
        semconv.PROVIDER_NAME: "openai",
        semconv.REQUEST_MODEL: "gpt-4o-mini",
        semconv.ERROR_TYPE: "openai.RateLimitError",
    }


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_never_retried(status, fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=status), times=None)
    with pytest.raises(openai.APIStatusError):
        await call(sdk(fake_provider))
    assert fake_provider.request_count() == 1
    assert clock.sleeps == []
    assert telemetry.span().attributes[semconv.RETRY_ATTEMPTS] == 1


@pytest.mark.parametrize("status", [408, 409, 500, 502, 503])
async def test_transient_statuses_are_retried(status, fake_provider, instrument, clock):
    instrument(**RETRY)
    fake_provider.add_fault(Fault(status=status), times=1)
    await call(sdk(fake_provider))
    assert fake_provider.request_count() == 2


async def test_attempts_bound_the_requests_that_reach_the_server(fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=503), times=None)
    with pytest.raises(openai.InternalServerError):
        await call(sdk(fake_provider))
    assert fake_provider.request_count() == 4  # not 4 x 3 with the SDK's own retries
    span = telemetry.span()
    assert span.attributes[semconv.RETRY_ATTEMPTS] == 4
    assert span.attributes[semconv.ERROR_TYPE] == "openai.InternalServerError"
    assert len(clock.sleeps) == 3
    assert all(delay <= 8 for delay in clock.sleeps)


async def test_dropped_connections_are_retried(fake_provider, instrument, clock):
    instrument(**RETRY)
    fake_provider.add_fault(Fault(drop_connection=True), times=2)
    await call(sdk(fake_provider))
    assert fake_provider.request_count() == 3


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        (Fault(status=429, retry_after="2"), 2.0),
        (Fault(status=429, retry_after_ms="1500"), 1.5),
        (Fault(status=429, retry_after="100"), 8.0),  # capped by OTEL_AGENTOPS_RETRY_MAX_DELAY
        (Fault(status=503, retry_after="3"), 3.0),
    ],
)
async def test_retry_after_is_honoured_up_to_the_cap(fault, expected, fake_provider, instrument, clock):
    instrument(**RETRY)
    fake_provider.add_fault(fault, times=1)
    await call(sdk(fake_provider))
    assert clock.sleeps == [expected]


async def test_retry_after_http_date(fake_provider, instrument, clock):
    instrument(**RETRY)
    when = email.utils.formatdate(clock.wall() + 5, usegmt=True)
    fake_provider.add_fault(Fault(status=429, retry_after=when), times=1)
    await call(sdk(fake_provider))
    assert clock.sleeps == [pytest.approx(5, abs=1)]  # HTTP dates have one-second resolution


async def test_x_should_retry_false_is_respected(fake_provider, instrument, clock):
    instrument(**RETRY)
    fake_provider.add_fault(Fault(status=500, should_retry="false"), times=None)
    with pytest.raises(openai.InternalServerError):
        await call(sdk(fake_provider))
    assert fake_provider.request_count() == 1


async def test_streaming_call_retried_before_the_first_chunk(fake_provider, instrument, clock):
    telemetry = instrument(**RETRY)
    fake_provider.add_fault(Fault(status=429), times=1)
    fake_provider.script(Reply(text="streamed after a retry"))
    stream = await call(sdk(fake_provider), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "streamed after a retry"
    assert fake_provider.request_count() == 2
    assert telemetry.span().attributes[semconv.RETRY_ATTEMPTS] == 2


async def test_stream_cut_after_chunks_is_not_retried(fake_provider, instrument, clock):
    instrument(**RETRY)
    fake_provider.add_fault(Fault(cut_stream_after=2), times=1)
    stream = await call(sdk(fake_provider), stream=True)
    with pytest.raises(openai.APIConnectionError):
        list(stream)
    assert fake_provider.request_count() == 1  # chunks had reached the app: a retry would duplicate them


async def test_without_configuration_nothing_changes(fake_provider, instrument, clock):
    telemetry = instrument()
    fake_provider.add_fault(Fault(status=500), times=None)
    llm = openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=1)
    with pytest.raises(openai.InternalServerError):
        llm.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert fake_provider.request_count() == 2  # the SDK's own retry, untouched
    span = telemetry.span()
    assert semconv.RETRY_ATTEMPTS not in span.attributes
    assert [e.name for e in span.events] == []
    assert clock.sleeps == []


def test_botocore_errors_are_classified():
    import botocore.exceptions

    from otel_agentops.policies.classify import is_transient, retry_after

    def client_error(status, headers=None):
        response = {
            "Error": {"Code": "X"},
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
        }
        return botocore.exceptions.ClientError(response, "Converse")

    assert is_transient(client_error(429))
    assert is_transient(client_error(503))
    assert not is_transient(client_error(400))
    assert retry_after(client_error(429, {"retry-after": "3"}), 0.0) == 3.0
    assert is_transient(botocore.exceptions.ConnectionClosedError(endpoint_url="http://127.0.0.1:1"))
    assert is_transient(botocore.exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1:1"))
