"""Batching concurrent async embedding calls with the real openai SDK against the fake provider."""

from __future__ import annotations

import asyncio
import gc
import logging

import openai
import pytest
from openai.types import CreateEmbeddingResponse

from otel_agentops.fake_provider import Fault
from otel_agentops.genai import semconv
from otel_agentops.policies.batching import apportion

MODEL = "text-embedding-3-small"
BATCHING = {"OTEL_AGENTOPS_BATCH_MAX_WAIT_MS": "50", "OTEL_AGENTOPS_BATCH_MAX_SIZE": "16"}


def sdk(fake):
    return openai.AsyncOpenAI(api_key="sk-test", base_url=fake.openai_base_url, max_retries=0)


async def test_fifty_concurrent_callers_each_get_exactly_their_slice(fake_provider, instrument):
    telemetry = instrument(**BATCHING)
    llm = sdk(fake_provider)
    texts = [f"question number {i} " + "x" * i for i in range(50)]

    results = await asyncio.gather(*(llm.embeddings.create(model=MODEL, input=text) for text in texts))

    # 50 inputs, at most 16 per request: 16 + 16 + 16 + 2.
    assert fake_provider.request_count() == 4
    assert [len(r.body["input"]) for r in fake_provider.requests] == [16, 16, 16, 2]
    requests = fake_provider.requests
    spans = telemetry.spans()
    batch_spans = [s for s in spans if semconv.BATCH_SIZE in s.attributes and not s.links]
    caller_spans = [s for s in spans if s.links]
    assert len(batch_spans) == 4
    assert sorted(s.attributes[semconv.BATCH_SIZE] for s in batch_spans) == [2, 16, 16, 16]
    assert len(caller_spans) == 50
    batch_ids = {s.context.span_id for s in batch_spans}
    for span in caller_spans:
        [link] = span.links
        assert link.context.span_id in batch_ids
        assert semconv.USAGE_INPUT_TOKENS in span.attributes
    # Tokens are metered once, on the batch requests.
    [tokens] = telemetry.metric_points(semconv.METRIC_TOKEN_USAGE)
    assert tokens.count == 4
    assert tokens.sum == sum(s.attributes[semconv.USAGE_INPUT_TOKENS] for s in batch_spans)
    [batches] = telemetry.metric_points(semconv.METRIC_BATCHES)
    assert batches.value == 4
    # The same texts one by one (extra headers are never batched): the reference vectors.
    for text, result in zip(texts, results, strict=True):
        assert type(result) is CreateEmbeddingResponse
        [item] = result.data
        assert item.index == 0
        assert item.embedding == await reference(llm, text)
    assert sum(r.usage.prompt_tokens for r in results) == sum(_tokens(r.body["input"]) for r in requests)


async def reference(llm, text):
    """The vector of `text` sent alone (calls with extra headers are never batched)."""
    alone = await llm.embeddings.create(model=MODEL, input=text, extra_headers={"x-reference": "1"})
    return alone.data[0].embedding


def _tokens(inputs):
    return sum(-(-len(text) // 4) for text in inputs)


async def test_list_inputs_keep_their_order(fake_provider, instrument):
    instrument(**BATCHING)
    llm = sdk(fake_provider)
    a, b = ["alpha", "beta", "gamma"], ["delta", "epsilon"]
    first, second = await asyncio.gather(
        llm.embeddings.create(model=MODEL, input=a), llm.embeddings.create(model=MODEL, input=b)
    )
    assert fake_provider.request_count() == 1
    assert fake_provider.requests[0].body["input"] == a + b
    assert [item.index for item in first.data] == [0, 1, 2]
    assert [item.index for item in second.data] == [0, 1]
    single = await sdk(fake_provider).embeddings.create(model=MODEL, input=["epsilon"], dimensions=None)
    del single  # only to show an unbatched call works alongside


async def test_different_parameters_are_not_merged(fake_provider, instrument):
    instrument(**BATCHING)
    llm = sdk(fake_provider)
    await asyncio.gather(
        llm.embeddings.create(model=MODEL, input="a"),
        llm.embeddings.create(model=MODEL, input="b", dimensions=64),
        llm.embeddings.create(model="text-embedding-3-large", input="c"),
        sdk(fake_provider).embeddings.create(model=MODEL, input="d"),  # another client
    )
    assert fake_provider.request_count() == 4


async def test_a_failed_batch_fails_every_caller(fake_provider, instrument):
    telemetry = instrument(**BATCHING)
    fake_provider.add_fault(Fault(status=500))
    llm = sdk(fake_provider)
    results = await asyncio.gather(
        *(llm.embeddings.create(model=MODEL, input=f"text {i}") for i in range(5)), return_exceptions=True
    )
    assert fake_provider.request_count() == 1
    assert all(isinstance(result, openai.InternalServerError) for result in results)
    errored = [s for s in telemetry.spans() if s.attributes.get(semconv.ERROR_TYPE)]
    assert len(errored) == 6  # five callers and the batch request


async def test_a_lone_call_waits_at_most_the_window(fake_provider, instrument):
    instrument(OTEL_AGENTOPS_BATCH_MAX_WAIT_MS="20")
    result = await asyncio.wait_for(sdk(fake_provider).embeddings.create(model=MODEL, input="alone"), 10)
    assert len(result.data) == 1
    assert fake_provider.request_count() == 1


def test_sync_calls_are_never_batched(fake_provider, instrument):
    telemetry = instrument(**BATCHING)
    llm = openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=0)
    llm.embeddings.create(model=MODEL, input="a")
    [span] = telemetry.spans()
    assert semconv.BATCH_SIZE not in span.attributes


@pytest.mark.parametrize(
    ("total", "weights", "shares"),
    [
        (10, [1, 1], [5, 5]),
        (10, [1, 2], [3, 7]),
        (7, [1, 1, 1], [3, 2, 2]),
        (0, [3, 4], [0, 0]),
        (5, [0, 0], [3, 2]),
    ],
)
def test_apportion_adds_up(total, weights, shares):
    assert apportion(total, weights) == shares


def test_bad_batch_settings_are_named(fake_provider, instrument, caplog):
    caplog.set_level(logging.WARNING, logger="otel_agentops.config")
    instrument(OTEL_AGENTOPS_BATCH_MAX_WAIT_MS="soon", OTEL_AGENTOPS_BATCH_MAX_SIZE="1")
    messages = [record.getMessage() for record in caplog.records]
    assert (
        "otel-agentops: ignoring OTEL_AGENTOPS_BATCH_MAX_WAIT_MS='soon': expected milliseconds in (0, 10000];"
        " using the default (None)"
    ) in messages
    assert (
        "otel-agentops: ignoring OTEL_AGENTOPS_BATCH_MAX_SIZE='1': expected a whole number >= 2; using the"
        " default (64)"
    ) in messages


async def test_a_rejected_batch_sends_each_caller_alone(fake_provider, instrument):
    """A 400 for the combined request must not fail callers whose own request is fine."""
    instrument(**BATCHING)
    fake_provider.add_fault(Fault(status=400), times=1)
    llm = sdk(fake_provider)
    results = await asyncio.gather(*(llm.embeddings.create(model=MODEL, input=f"text {i}") for i in range(3)))
    assert [len(r.data) for r in results] == [1, 1, 1]
    assert [
        len(r.body["input"]) if isinstance(r.body["input"], list) else 1 for r in fake_provider.requests
    ] == [
        3,
        1,
        1,
        1,
    ]


async def test_a_failure_of_our_batching_code_still_answers_every_caller(
    fake_provider, instrument, monkeypatch
):
    from otel_agentops.policies import batching

    def broken_split(*_args):
        raise RuntimeError("a bug in our batching code")

    monkeypatch.setattr(batching, "split", broken_split)
    instrument(**BATCHING)
    llm = sdk(fake_provider)
    results = await asyncio.wait_for(
        asyncio.gather(*(llm.embeddings.create(model=MODEL, input=f"text {i}") for i in range(3))), 10
    )
    assert [r.data[0].embedding for r in results] == [await reference(llm, f"text {i}") for i in range(3)]
    assert fake_provider.request_count() == 1 + 3 + 3  # the batch, each alone, the references


def test_split_without_usage_and_with_missing_vectors():
    from openai.types import CreateEmbeddingResponse, Embedding

    from otel_agentops.policies.batching import split

    data = [Embedding(index=i, embedding=[float(i)], object="embedding") for i in range(3)]
    result = CreateEmbeddingResponse.construct(data=data, model=MODEL, object="list", usage=None)
    first, second = split(result, [1, 2], [1, 1])
    assert [e.embedding for e in first.data] == [[0.0]]
    assert [(e.index, e.embedding) for e in second.data] == [(0, [1.0]), (1, [2.0])]
    assert second.usage is None
    with pytest.raises(ValueError, match="2 embeddings for 3 inputs"):
        split(
            CreateEmbeddingResponse.construct(data=data[:2], model=MODEL, object="list", usage=None),
            [1, 2],
            [1, 1],
        )


async def test_different_timeouts_are_not_merged(fake_provider, instrument):
    instrument(**BATCHING)
    llm = sdk(fake_provider)
    await asyncio.gather(
        llm.embeddings.create(model=MODEL, input="a", timeout=5),
        llm.embeddings.create(model=MODEL, input="b", timeout=30),
        llm.embeddings.create(model=MODEL, input="c", timeout=30),
    )
    assert sorted(len(r.body["input"]) for r in fake_provider.requests) == [1, 2]


def test_batches_of_a_finished_event_loop_are_dropped(fake_provider, instrument):
    """asyncio.run() ends with a caller still in its wait window: that batch goes with the loop."""
    from otel_agentops.policies.batching import EmbeddingBatcher

    instrument(OTEL_AGENTOPS_BATCH_MAX_WAIT_MS="5000")
    llm = sdk(fake_provider)

    async def leave_one_waiting():
        asyncio.get_running_loop().create_task(llm.embeddings.create(model=MODEL, input="abandoned"))
        await asyncio.sleep(0)

    asyncio.run(leave_one_waiting())
    [batcher] = [
        o
        for o in gc.get_objects()
        if isinstance(o, EmbeddingBatcher)
        and any(
            e.items == ["abandoned"] for b in o._open for batch in o._open[b].values() for e in batch.entries
        )
    ]
    [closed_loop] = batcher._open
    assert closed_loop.is_closed()

    async def one_call():
        return await llm.embeddings.create(model=MODEL, input="next")

    instrument_again = asyncio.run(asyncio.wait_for(one_call(), 10))
    assert len(instrument_again.data) == 1
    assert closed_loop not in batcher._open
    assert fake_provider.request_count() == 1  # the abandoned caller was cancelled, never sent
