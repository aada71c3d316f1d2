"""Mistral AI (`mistralai` 1.x SDK, Speakeasy-generated): patch points and extractors.

Patched, on `mistralai.chat.Chat` and `mistralai.embeddings.Embeddings`:

* `complete` / `complete_async` (chat; `parse` / `parse_async` call `complete` and are covered by it);
* `stream` / `stream_async`: they return an `EventStream` / `EventStreamAsync` of `CompletionEvent`s whose
  `.data` is an OpenAI-shaped chunk. The app gets the stream back proxied (`genai.stream`), so the span ends
  exactly once whether it is drained, closed through its HTTP response, left in a ``with`` /
  ``async with`` block (the SDK's streams are context managers, and so are the proxies), or abandoned;
  `parse_stream` goes through `stream`;
* `embeddings.create` / `create_async`.

Requests, responses and chunks are OpenAI's shapes, so the OpenAI provider's `begin` functions and
extractors are used, with Mistral's differences handled here: the provider name is always `mistral_ai`;
`server.address` / `server.port` come from the SDK configuration's server URL (or the call's own
``server_url``), not from an httpx client; ``random_seed`` is the seed and ``output_dimension`` the
embedding size; the SDK's "not given" value is its `Unset` model; message content may be a list of chunks
(text, thinking) and tool-call arguments a dict, which the streamed output messages turn into text.
Mistral streams always end with a chunk that carries the usage.

The SDK's own tracing: mistralai 1.x registers a `TracingHook` on every client that, when a global
TracerProvider exists (as under ``opentelemetry-instrument``), starts a span per request named after the
operation (``chat_completion_v1_chat_completions_post``, ``stream_chat``, ...) with `gen_ai.*` attributes
and usage: a second LLM span per call under ours, counting the same tokens again. As for Anthropic, the user
sees ONE span, ours: the tracer the hook gets (`mistralai._hooks.tracing.get_or_create_otel_tracer`) is
wrapped so that, while one of our LLM spans is current, it hands out a non-recording stand-in carrying our
span's context. The hook still injects ``traceparent`` (now naming our span); its spans for calls we do
not instrument (agents, conversations, OCR, ...) are untouched.

Not patched: `fim`, `agents`, `conversations`, `ocr`, `classifiers` (other APIs). The SDK does not retry
unless the client is given a `retry_config`.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import wrapt

from otel_agentops.genai import semconv
from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import Endpoints, UrlEndpoints
from otel_agentops.genai.fields import Arguments, field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.sdk_tracing import DeferringTracer
from otel_agentops.genai.stream import ChunkHandler
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation
from otel_agentops.providers import openai as openai_shapes
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("mistralai >= 1.2, < 2",)
_TRACING_MODULE = "mistralai._hooks.tracing"
_TRACER_FUNCTION = "get_or_create_otel_tracer"
PROVIDER = "mistral_ai"

_given = Arguments()


# ---------------------------------------------------------------- request side


def _configured_url(instance: Any) -> str | None:
    configuration = getattr(instance, "sdk_configuration", None)
    return configuration.get_server_details()[0] if configuration is not None else None


_server = UrlEndpoints(PROVIDER, _configured_url)


def _server_for(kwargs: Mapping[str, Any]) -> Endpoints:
    """The call's own `server_url`, when it overrides the client's."""
    url = kwargs.get("server_url")
    return UrlEndpoints(PROVIDER, lambda _instance: url) if isinstance(url, str) and url else _server


def _deferring_tracer(wrapped: Any, _instance: Any, args: Any, kwargs: Any) -> Any:
    """Wraps `get_or_create_otel_tracer() -> (enabled, tracer)`, called by the hook before each request."""
    enabled, tracer = wrapped(*args, **kwargs)
    if isinstance(tracer, DeferringTracer):
        return enabled, tracer
    return enabled, DeferringTracer(tracer)


def _begin_chat(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, streaming: bool
) -> GenAICall:
    call = openai_shapes._begin_chat(telemetry, instance, args, kwargs, _server_for(kwargs), _given)
    seed = _given(kwargs, "random_seed")
    if seed is not None:
        call.span.set_attribute(semconv.REQUEST_SEED, seed)
    if streaming:
        # `stream()` sends stream=true by default: the argument is usually absent.
        call.span.set_attribute(semconv.REQUEST_STREAM, True)
        call.stream_state = _Stream()
    elif call.stream_state is not None:
        call.stream_state = _Stream()
    return call


def _begin_complete(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin_chat(telemetry, instance, args, kwargs, streaming=False)


def _begin_stream(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return _begin_chat(telemetry, instance, args, kwargs, streaming=True)


def _begin_embeddings(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    call = openai_shapes._begin_embeddings(telemetry, instance, args, kwargs, _server_for(kwargs), _given)
    dimensions = _given(kwargs, "output_dimension")
    if dimensions is not None:
        call.span.set_attribute(semconv.EMBEDDINGS_DIMENSION_COUNT, dimensions)
    return call


# ---------------------------------------------------------------- response side


def _text(content: Any) -> str:
    """Streamed content as text: a string, or the text chunks of a list of content chunks."""
    if isinstance(content, str):
        return content
    return "".join(
        field(chunk, "text") or "" for chunk in content or () if field(chunk, "type") in ("text", None)
    )


def _arguments_text(fragment: Any) -> str:
    return fragment if isinstance(fragment, str) else json.dumps(fragment, separators=(",", ":"))


class _Stream(openai_shapes._ChatStream):
    """OpenAI's stream accounting; Mistral's list content and dict arguments become text once, at the end."""

    __slots__ = ()

    def finish(self, call: GenAICall) -> None:
        if call.telemetry.capture_content:
            for pieces in self.text.values():
                pieces[:] = [_text(piece) for piece in pieces]
            for entry in self.tool_calls.values():
                entry[2] = [_arguments_text(fragment) for fragment in entry[2]]
        super().finish(call)


def _event(call: GenAICall, event: Any) -> None:
    openai_shapes._chat_chunk(call, field(event, "data"))


def _chunk_handler(_call: GenAICall) -> ChunkHandler:
    return _event


_CHAT = Operation(_begin_complete, finisher(openai_shapes._chat_completion, _chunk_handler))
_STREAM = Operation(_begin_stream, finisher(openai_shapes._chat_completion, _chunk_handler))
_EMBEDDINGS = Operation(_begin_embeddings, finisher(openai_shapes._embeddings_response, _chunk_handler))


class MistralInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_mistral`."""

    library = "mistralai"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        from mistralai import types

        unset = getattr(types, "UNSET", None)
        _given.sentinels = (type(unset),) if unset is not None else ()
        points = []
        for module, cls, method, operation in (
            ("mistralai.chat", "Chat", "complete", _CHAT),
            ("mistralai.chat", "Chat", "stream", _STREAM),
            ("mistralai.embeddings", "Embeddings", "create", _EMBEDDINGS),
        ):
            points.append(PatchPoint(module, cls, method, operation, is_async=False))
            points.append(PatchPoint(module, cls, method + "_async", operation, is_async=True))
        return points

    def _patch_now(self, **kwargs: Any) -> None:
        super()._patch_now(**kwargs)
        try:
            tracing = importlib.import_module(_TRACING_MODULE) if self._patched else None
        except ImportError:  # an SDK version that does not trace itself
            tracing = None
        if callable(getattr(tracing, _TRACER_FUNCTION, None)):
            wrapt.wrap_function_wrapper(tracing, _TRACER_FUNCTION, _deferring_tracer)
            self._patched.append((tracing, _TRACER_FUNCTION))
