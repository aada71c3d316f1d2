"""Batching of concurrent async embedding requests (`OTEL_AGENTOPS_BATCH_MAX_WAIT_MS`, `..._MAX_SIZE`).

Concurrent `await client.embeddings.create(...)` calls of the openai SDK that differ only in their
`input` (same client, model, dimensions, encoding format...) and arrive within the wait window are sent as
one request of up to MAX_SIZE inputs. The batch goes out when it is full or when the window of its first
caller ends, whichever comes first; a caller with more inputs than MAX_SIZE, or with extra headers, query
or body (e.g. `with_raw_response`), is sent on its own; a batch also closes before ~250,000 estimated tokens
(OpenAI's per-request limit is 300,000).

Each caller gets a response of the SDK's type with exactly its own embeddings, in its own order, indexed
from 0, and its share of the usage (the batch's tokens apportioned by input length, so the shares add up
to the batch's total). A failed batch raises its error in every caller.

Telemetry: the batch request has its own `embeddings {model}` span, child of the first caller's span, with
the tokens and cost of the request; every caller's span links to it and carries `agentops.batch.size` and
its share of tokens as attributes only (no token or cost metrics: the batch request is metered once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry.metrics import Meter

from otel_agentops.config.scaling import BatchSettings
from otel_agentops.genai import semconv
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.policies.cache import request_key
from otel_agentops.policies.classify import is_transient, status_of
from otel_agentops.policies.estimate import CHARS_PER_TOKEN

if TYPE_CHECKING:
    from otel_agentops.genai.call import GenAICall
    from otel_agentops.policies.chain import Request

Runner = Callable[["GenAICall", "Request"], Awaitable[Any]]
_EXTRAS = ("extra_headers", "extra_query", "extra_body")
# Below OpenAI's per-request limit for embeddings (300,000 tokens), estimated from characters.
MAX_BATCH_TOKENS = 250_000


class _BatchMember:
    """A caller's `policy_finish`: its tokens become attributes only, since the batch request's span
    meters them."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        self.size = size

    def __call__(self, call: GenAICall) -> None:
        call.set_attribute(semconv.BATCH_SIZE, self.size)
        if call.input_tokens is not None:
            call.set_attribute(semconv.USAGE_INPUT_TOKENS, call.input_tokens)
        call.input_tokens = call.output_tokens = None


class _Entry:
    __slots__ = ("call", "future", "items", "request")

    def __init__(
        self, call: GenAICall, request: Request, items: list[Any], future: asyncio.Future[Any]
    ) -> None:
        self.call = call
        self.request = request
        self.items = items
        self.future = future


class _Batch:
    __slots__ = ("entries", "size", "timer", "tokens")

    def __init__(self) -> None:
        self.entries: list[_Entry] = []
        self.size = 0
        self.tokens = 0
        self.timer: asyncio.TimerHandle | None = None


class EmbeddingBatcher:
    def __init__(self, settings: BatchSettings, run: Runner, meter: Meter) -> None:
        assert settings.max_wait is not None
        self.max_wait = settings.max_wait
        self.max_size = settings.max_size
        self._run = run
        # Per event loop. A loop closed with a batch still waiting (its timer never fires) is dropped at
        # the next submit: its futures hold the loop, so a weak mapping would not let it go.
        self._open: dict[asyncio.AbstractEventLoop, dict[tuple[Any, ...], _Batch]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._batches = meter.create_counter(
            semconv.METRIC_BATCHES, unit="{request}", description="Batched embedding requests sent"
        )
        self._sizes = meter.create_histogram(
            semconv.METRIC_BATCH_SIZE, unit="{input}", description="Inputs per batched embedding request"
        )

    def key(self, call: GenAICall, request: Request) -> tuple[Any, ...] | None:
        """The batch this call may join, or None when it must go alone."""
        if request.operation is None or request.telemetry is None or request.args:
            return None
        if call.metric_attributes.get(semconv.OPERATION_NAME) != semconv.OP_EMBEDDINGS:
            return None
        if not type(request.instance).__module__.startswith("openai."):
            return None
        kwargs = request.kwargs
        if any(kwargs.get(extra) for extra in _EXTRAS):
            return None
        kind_items = _inputs(kwargs.get("input"))
        if kind_items is None or len(kind_items[1]) > self.max_size:
            return None
        rest = request_key(
            call.provider, request.method, (), {k: v for k, v in kwargs.items() if k != "input"}
        )
        if rest is None:
            return None
        # The request key leaves `timeout` out; a batch must not give one caller another's timeout.
        return (id(request.instance), kind_items[0], rest, repr(kwargs.get("timeout")))

    async def submit(self, call: GenAICall, request: Request, key: tuple[Any, ...]) -> Any:
        loop = asyncio.get_running_loop()
        kind_items = _inputs(request.kwargs.get("input"))
        assert kind_items is not None
        items = kind_items[1]
        tokens = _tokens(items)
        for other in [other for other in self._open if other.is_closed()]:
            del self._open[other]
        batches = self._open.setdefault(loop, {})
        batch = batches.get(key)
        if batch is not None and (
            batch.size + len(items) > self.max_size or batch.tokens + tokens > MAX_BATCH_TOKENS
        ):
            self._close(loop, key)
            batch = None
        if batch is None:
            batch = batches[key] = _Batch()
            batch.timer = loop.call_later(self.max_wait, self._close, loop, key)
        entry = _Entry(call, request, items, loop.create_future())
        batch.entries.append(entry)
        batch.size += len(items)
        batch.tokens += tokens
        if batch.size >= self.max_size:
            self._close(loop, key)
        return await entry.future

    def _close(self, loop: asyncio.AbstractEventLoop, key: tuple[Any, ...]) -> None:
        batch = self._open.get(loop, {}).pop(key, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        task = loop.create_task(self._send(batch))
        self._tasks.add(task)  # a reference, so the task is not garbage-collected mid-flight
        task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: _Batch) -> None:
        """Every caller's future is resolved, whatever happens here: if our own batching code fails, the
        callers not answered yet are sent alone."""
        try:
            await self._send_batch(batch)
        except BaseException as exc:
            report_internal_error("batching embeddings", exc)
            await self._send_alone(batch.entries)

    async def _send_batch(self, batch: _Batch) -> None:
        first = batch.entries[0]
        request, operation, telemetry = first.request, first.request.operation, first.request.telemetry
        assert operation is not None and telemetry is not None
        merged = {**request.kwargs, "input": [item for entry in batch.entries for item in entry.items]}
        from otel_agentops.policies.chain import Request

        token = otel_context.attach(first.call.context)
        try:
            batch_call = operation.begin(telemetry, request.instance, (), merged)
        finally:
            otel_context.detach(token)
        batch_call.set_attribute(semconv.BATCH_SIZE, batch.size)
        member = _BatchMember(batch.size)
        link = batch_call.span.get_span_context()
        for index, entry in enumerate(batch.entries):
            entry.call.span.add_link(link, {semconv.BATCH_INDEX: index})
            entry.call.policy_finish = member
        self._batches.add(1, batch_call.metric_attributes)
        self._sizes.record(batch.size, batch_call.metric_attributes)
        token = otel_context.attach(batch_call.context)
        try:
            result = await self._run(batch_call, Request(request.wrapped, request.instance, (), merged))
        except Exception as exc:
            otel_context.detach(token)
            batch_call.end(exc)
            if len(batch.entries) > 1 and _rejected_request(exc):
                # One caller's bad input must not fail the others: each is sent alone.
                await self._send_alone(batch.entries)
                return
            for entry in batch.entries:
                if not entry.future.done():
                    entry.future.set_exception(exc)
            return
        otel_context.detach(token)
        result = operation.finish(batch_call, result)
        counts = [len(entry.items) for entry in batch.entries]
        # Characters of text, or tokens of a token array: what the provider counts tokens from.
        weights = [sum(len(item) for item in entry.items) for entry in batch.entries]
        for entry, part in zip(batch.entries, split(result, counts, weights), strict=True):
            if not entry.future.done():
                entry.future.set_result(part)

    async def _send_alone(self, entries: Sequence[_Entry]) -> None:
        for entry in entries:
            if entry.future.done():
                continue
            entry.call.policy_finish = None
            try:
                result = await self._run(entry.call, entry.request)
            except BaseException as exc:
                if not entry.future.done():
                    entry.future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            else:
                if not entry.future.done():
                    entry.future.set_result(result)


def _rejected_request(error: BaseException) -> bool:
    """A 4xx that says the request itself is wrong (not a rate limit or conflict)."""
    status = status_of(error)
    return status is not None and 400 <= status < 500 and not is_transient(error)


def _tokens(items: Sequence[Any]) -> int:
    return sum(len(item) // CHARS_PER_TOKEN if isinstance(item, str) else len(item) for item in items)


def _inputs(value: Any) -> tuple[str, list[Any]] | None:
    """("text" | "tokens", the list of single inputs) of an embeddings `input`, or None if unknown."""
    if isinstance(value, str):
        return "text", [value]
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(item, str) for item in value):
        return "text", list(value)
    if all(isinstance(item, int) for item in value):
        return "tokens", [value]
    if all(isinstance(item, list) and all(isinstance(t, int) for t in item) for item in value):
        return "tokens", list(value)
    return None


def split(result: Any, counts: Sequence[int], weights: Sequence[float]) -> list[Any]:
    """One response per caller: its embeddings re-indexed from 0, and its share of the usage."""
    data = sorted(result.data, key=lambda item: item.index)
    if len(data) != sum(counts):
        raise ValueError(f"the batch reply has {len(data)} embeddings for {sum(counts)} inputs")
    usage = getattr(result, "usage", None)
    shares = apportion(getattr(usage, "prompt_tokens", 0) or 0, weights)
    parts = []
    for (start, count), share in zip(_spans(counts), shares, strict=True):
        own = data[start : start + count]
        update: dict[str, Any] = {
            "data": [item.model_copy(update={"index": i}) for i, item in enumerate(own)]
        }
        if usage is not None:  # some OpenAI-compatible servers send none
            update["usage"] = usage.model_copy(update={"prompt_tokens": share, "total_tokens": share})
        parts.append(result.model_copy(update=update))
    return parts


def _spans(counts: Sequence[int]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for count in counts:
        spans.append((start, count))
        start += count
    return spans


def apportion(total: int, weights: Sequence[float]) -> list[int]:
    """Whole shares of `total` in proportion to `weights` that add up to `total` (largest remainder)."""
    whole = sum(weights)
    if whole <= 0:
        weights, whole = [1.0] * len(weights), float(len(weights))
    exact = [total * weight / whole for weight in weights]
    shares = [int(value) for value in exact]
    by_remainder = sorted(range(len(exact)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares
