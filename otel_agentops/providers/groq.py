"""Groq (`groq` SDK, Stainless-generated, OpenAI's chat and embeddings shapes): patch points.

Patched: `chat.completions.create` and `embeddings.create`, sync and async. Requests, responses and stream
chunks have OpenAI's shapes, so the OpenAI provider's `begin` functions and extractors are used as they
are, with Groq's own endpoints (provider name always `groq`) and "not given" sentinels. The one Groq
addition read here: a stream's last chunk may carry its usage in `x_groq.usage` instead of `usage`.
`with_raw_response` / `with_streaming_response` go through the patched `create` like openai's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import Endpoints
from otel_agentops.genai.fields import Arguments, field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.stream import ChunkHandler
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation
from otel_agentops.providers import openai as openai_shapes
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("groq >= 0.9.0, < 2",)
PROVIDER = "groq"

_given = Arguments()
_server = Endpoints(lambda _client, _host, _port: PROVIDER)


def _chat_chunk(call: GenAICall, chunk: Any) -> None:
    openai_shapes._chat_chunk(call, chunk)
    if field(chunk, "usage") is None:
        x_groq_usage = field(field(chunk, "x_groq"), "usage")
        if x_groq_usage is not None:
            openai_shapes._chat_usage(call, x_groq_usage)


def _chunk_handler(_call: GenAICall) -> ChunkHandler:
    return _chat_chunk


def _begin_chat(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return openai_shapes._begin_chat(telemetry, instance, args, kwargs, _server, _given)


def _begin_embeddings(
    telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    return openai_shapes._begin_embeddings(telemetry, instance, args, kwargs, _server, _given)


_CHAT = Operation(_begin_chat, finisher(openai_shapes._chat_completion, _chunk_handler))
_EMBEDDINGS = Operation(_begin_embeddings, finisher(openai_shapes._embeddings_response, _chunk_handler))


class GroqInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_groq`."""

    library = "groq"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        import groq

        _given.load_sentinels(groq)
        points = []
        for module, sync_cls, async_cls, operation in (
            ("groq.resources.chat.completions", "Completions", "AsyncCompletions", _CHAT),
            ("groq.resources.embeddings", "Embeddings", "AsyncEmbeddings", _EMBEDDINGS),
        ):
            points.append(PatchPoint(module, sync_cls, "create", operation, is_async=False))
            points.append(PatchPoint(module, async_cls, "create", operation, is_async=True))
        return points
