"""Stream proxies: the SDK's stream object, unchanged for the app, that ends its call's span exactly once.

The span ends on whichever comes first: the stream is exhausted, the app closes it (directly, through
`with`, or through an SDK helper that closes the underlying HTTP response), an exception is raised while
iterating, or the stream is garbage-collected unconsumed (then the span says it was abandoned). No
OpenTelemetry context is attached while the app iterates, so nothing can leak across its yields.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import wrapt

from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.failsafe import report_internal_error

ChunkHandler = Callable[[GenAICall, Any], None]


def _abandon(call: GenAICall) -> None:
    call.end(abandoned=True)


class _StreamProxyBase(wrapt.ObjectProxy):  # type: ignore[misc]
    def __init__(self, wrapped: Any, call: GenAICall, on_chunk: ChunkHandler) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_on_chunk = on_chunk
        # Holds the call, not the proxy: the finalizer must not keep the proxy alive.
        self._self_finalizer = weakref.finalize(self, _abandon, call)

    def _self_chunk(self, chunk: Any) -> None:
        call = self._self_call
        try:
            if call.time_to_first_chunk is None:
                call.first_chunk()
            self._self_on_chunk(call, chunk)
        except Exception as exc:
            report_internal_error("stream chunk extraction", exc)

    def _self_end(self, error: BaseException | None = None) -> None:
        self._self_finalizer.detach()
        self._self_call.end(error)

    @property
    def response(self) -> Any:
        # SDK helpers (e.g. openai's ChatCompletionStream) close the HTTP response, not the stream;
        # handing them a response whose close also ends the span keeps the end exact for them too.
        return _ResponseCloseHook(self.__wrapped__.response, self)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)


class SyncStreamProxy(_StreamProxyBase):
    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class AsyncStreamProxy(_StreamProxyBase):
    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end(exc)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end()


class _ResponseCloseHook(wrapt.ObjectProxy):  # type: ignore[misc]
    """An HTTP response whose close also ends the stream's span."""

    def __init__(self, wrapped: Any, stream: _StreamProxyBase) -> None:
        super().__init__(wrapped)
        self._self_stream = stream

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_stream._self_end()

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_stream._self_end()


class AsyncGeneratorProxy(AsyncStreamProxy):
    """A stream that is an async generator (ollama's and cohere's async clients): `aclose()` ends the span
    too."""

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()
