"""What the app gets back from a patched call: the result itself, a stream proxy, or a raw-response proxy.

The Stainless-generated SDKs (openai, anthropic, ...) share the result types: `Stream` / `AsyncStream` for
``stream=True``, and raw responses (``with_raw_response``: body already read; ``with_streaming_response``:
body read when the app parses it) whose ``parse()`` gives the parsed object or the stream.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Mapping
from typing import Any

import wrapt

from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.stream import AsyncStreamProxy, ChunkHandler, SyncStreamProxy

Extract = Callable[[GenAICall, Any], None]
ChunkHandlerFor = Callable[[GenAICall], ChunkHandler]


def finisher(extract: Extract, chunk_handler: ChunkHandlerFor) -> Callable[[GenAICall, Any], Any]:
    """The `finish` of an operation whose streaming requests set `call.stream_state`."""

    def finish(call: GenAICall, result: Any) -> Any:
        streamed = stream_proxy(call, result, chunk_handler)
        if streamed is not None:
            return streamed
        if is_raw_response(result):
            return _finish_raw(call, result, extract, chunk_handler)
        extract(call, result)
        call.end()
        return result

    return finish


def stream_proxy(call: GenAICall, result: Any, chunk_handler: ChunkHandlerFor) -> Any:
    if call.stream_state is None:
        return None
    if hasattr(result, "__next__"):
        return SyncStreamProxy(result, call, chunk_handler(call))
    if hasattr(result, "__anext__"):
        return AsyncStreamProxy(result, call, chunk_handler(call))
    return None


# By result type: asking a pydantic model for an attribute it lacks raises (and formats) an AttributeError
# inside pydantic, on every call. Whether a type is a raw response does not change.
_RAW_BY_TYPE: dict[type, bool] = {}
_RAW_TYPES_KEPT = 256


def is_raw_response(result: Any) -> bool:
    kind = type(result)
    raw = _RAW_BY_TYPE.get(kind)
    if raw is None:
        raw = hasattr(result, "http_response") and hasattr(result, "parse")
        if len(_RAW_BY_TYPE) < _RAW_TYPES_KEPT:
            _RAW_BY_TYPE[kind] = raw
    return raw


def _finish_raw(call: GenAICall, raw: Any, extract: Extract, chunk_handler: ChunkHandlerFor) -> Any:
    http_response = raw.http_response
    if call.stream_state is None and getattr(http_response, "is_closed", False):
        # with_raw_response: the body is already read; decode it now rather than wait for a parse() the
        # app may never call (the extractors read dicts as well as SDK objects).
        extract(call, http_response.json())
        call.end()
        return raw
    proxy = _AsyncRawResponse if inspect.iscoroutinefunction(raw.parse) else _SyncRawResponse
    return proxy(raw, call, extract, chunk_handler)


class _RawResponseBase(wrapt.ObjectProxy):  # type: ignore[misc]
    """A raw response the app parses (or closes) later: its parse() result is what the span is about."""

    def __init__(
        self, wrapped: Any, call: GenAICall, extract: Extract, chunk_handler: ChunkHandlerFor
    ) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_extract = extract
        self._self_chunk_handler = chunk_handler
        self._self_parsed: Any = None
        self._self_finalizer = weakref.finalize(self, call.end)

    def _self_on_parsed(self, parsed: Any, kwargs: Mapping[str, Any]) -> Any:
        call = self._self_call
        if kwargs.get("to") is not None or call.ended:
            return parsed
        if self._self_parsed is not None:
            return self._self_parsed  # the same stream object on every parse(), as without us
        self._self_finalizer.detach()
        streamed = stream_proxy(call, parsed, self._self_chunk_handler)
        if streamed is not None:
            self._self_parsed = streamed
            return streamed
        try:
            self._self_extract(call, parsed)
        except Exception as exc:
            report_internal_error("response extraction", exc)
        finally:
            call.end()
        return parsed

    def _self_close(self) -> None:
        if self._self_parsed is None:
            self._self_finalizer.detach()
            self._self_call.end()


class _SyncRawResponse(_RawResponseBase):
    def parse(self, **kwargs: Any) -> Any:
        return self._self_on_parsed(self.__wrapped__.parse(**kwargs), kwargs)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_close()


class _AsyncRawResponse(_RawResponseBase):
    async def parse(self, **kwargs: Any) -> Any:
        return self._self_on_parsed(await self.__wrapped__.parse(**kwargs), kwargs)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_close()
