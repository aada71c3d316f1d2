"""LiteLLM (`litellm`): `completion` / `acompletion` (streams included) and `embedding` / `aembedding`.

LiteLLM's entry points are module functions, not SDK resource methods, so they are patched where apps
call them: the attributes of the `litellm` package (`litellm.completion`, ...; under
`opentelemetry-instrument` also `from litellm import completion`, which runs after the patch). LiteLLM's
own internal calls (`acompletion` runs `litellm.main.completion` in a thread) do not go through these
attributes.

One LLM span per call: LiteLLM reaches some providers through an SDK we instrument as well (the `openai`
SDK for `openai/...` models); that inner call runs inside this call's context (`IN_GENAI_CALL`) and makes
no span of its own, and the policies apply once, here. LiteLLM's own retries (`num_retries`, and the
`openai` SDK's `max_retries` underneath) happen inside this one span.

The provider comes from LiteLLM's own resolution of the model string (`litellm.get_llm_provider`:
`anthropic/claude-...`, or a bare `gpt-4o-mini`), mapped to the semantic conventions' provider names;
`gen_ai.request.model` is the model without LiteLLM's provider prefix, as the provider's own SDK would
report it. Responses and stream chunks have OpenAI's chat and embeddings shapes, so the OpenAI provider's
`begin` functions and extractors are used as they are.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from otel_agentops.genai.call import GenAICall
from otel_agentops.genai.endpoint import Endpoints, url_attributes
from otel_agentops.genai.fields import Arguments, field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.stream import AsyncStreamProxy, ChunkHandler
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation
from otel_agentops.providers import openai as openai_shapes
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("litellm >= 1.60, < 2",)
_UNKNOWN_PROVIDER = "litellm"

# LiteLLM's provider ids -> gen_ai.provider.name (semantic conventions, else the names the other
# providers of this package use); ids not listed are reported as LiteLLM spells them.
_PROVIDER_NAMES = {
    "text-completion-openai": "openai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "gemini": "gcp.gemini",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "bedrock": "aws.bedrock",
    "mistral": "mistral_ai",
    "codestral": "mistral_ai",
    "text-completion-codestral": "mistral_ai",
    "cohere_chat": "cohere",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
    "watsonx_text": "ibm.watsonx.ai",
    "fireworks_ai": "fireworks",
    "ollama_chat": "ollama",
    "hosted_vllm": "vllm",
}
_MAX_ROUTES = 256

_given = Arguments()


class _Route(Endpoints):
    """A LiteLLM call has no client instance: its route (model, provider, server) is resolved from the
    arguments first and passed to the OpenAI `begin` functions in the instance's place."""

    __slots__ = ()

    def __call__(self, instance: Any) -> tuple[Any, str, dict[str, Any]]:
        _model, provider, server_attrs = instance
        return None, provider, server_attrs


_route = _Route(lambda _client, _host, _port: _UNKNOWN_PROVIDER)
_routes: dict[tuple[str, str | None, str | None], tuple[str, str, dict[str, Any]]] = {}


def _provider_name(litellm_provider: str | None) -> str:
    if not litellm_provider:
        return _UNKNOWN_PROVIDER
    return _PROVIDER_NAMES.get(litellm_provider, litellm_provider)


def _server_attributes(api_base: Any) -> dict[str, Any]:
    return dict(url_attributes(api_base)) if isinstance(api_base, str) else {}


def _resolve(model: Any, kwargs: Mapping[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """(model without LiteLLM's prefix, gen_ai.provider.name, server attributes) of one call."""
    if not isinstance(model, str):
        return model, _UNKNOWN_PROVIDER, {}
    custom = _given(kwargs, "custom_llm_provider")
    api_base = _given(kwargs, "api_base") or _given(kwargs, "base_url")
    key = (model, custom, api_base)
    route = _routes.get(key)
    if route is not None:
        return route
    import litellm

    try:
        bare, litellm_provider, _key, resolved_base = litellm.get_llm_provider(
            model=model, custom_llm_provider=custom, api_base=api_base
        )
    except Exception:
        # LiteLLM cannot route this model: the call fails with the same error, which the span records.
        bare, litellm_provider, resolved_base = model, None, None
    route = (bare, _provider_name(litellm_provider), _server_attributes(api_base or resolved_base))
    if len(_routes) >= _MAX_ROUTES:
        _routes.clear()
    _routes[key] = route
    return route


def _arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], positional: tuple[str, ...]
) -> tuple[tuple[str, str, dict[str, Any]], dict[str, Any]]:
    """The call's route, and its arguments by name with the model as the provider knows it."""
    named = dict(kwargs)
    for name, value in zip(positional, args, strict=False):
        named[name] = value
    route = _resolve(named.get("model"), named)
    named["model"] = route[0]
    return route, named


def _begin_chat(
    telemetry: Telemetry, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    route, named = _arguments(args, kwargs, ("model", "messages"))
    return openai_shapes._begin_chat(telemetry, route, args, named, _route, _given)


def _begin_embeddings(
    telemetry: Telemetry, _instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> GenAICall:
    route, named = _arguments(args, kwargs, ("model", "input"))
    return openai_shapes._begin_embeddings(telemetry, route, args, named, _route, _given)


def _cache_writes(call: GenAICall, usage: Any) -> None:
    """Prompt tokens written to the provider's cache (Anthropic, ...): LiteLLM counts them in
    `prompt_tokens` like the cached ones, which OpenAI's extractor already reads."""
    written = field(field(usage, "prompt_tokens_details"), "cache_creation_tokens") or field(
        usage, "cache_creation_input_tokens"
    )
    if written:
        call.cache_write_tokens = written


def _chat_completion(call: GenAICall, completion: Any) -> None:
    openai_shapes._chat_completion(call, completion)
    _cache_writes(call, field(completion, "usage"))


def _chat_chunk(call: GenAICall, chunk: Any) -> None:
    openai_shapes._chat_chunk(call, chunk)
    _cache_writes(call, field(chunk, "usage"))


def _chunk_handler(_call: GenAICall) -> ChunkHandler:
    return _chat_chunk


class _AsyncStream(AsyncStreamProxy):
    """LiteLLM's `CustomStreamWrapper` is both iterator and async iterator and closes with `aclose()`."""

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()


_finish_chat = finisher(_chat_completion, _chunk_handler)
_finish_embeddings = finisher(openai_shapes._embeddings_response, _chunk_handler)


def _finish_async_chat(call: GenAICall, result: Any) -> Any:
    # The generic finisher would take the stream for a sync one (it has `__next__` too).
    if call.stream_state is not None and hasattr(result, "__anext__"):
        return _AsyncStream(result, call, _chat_chunk)
    return _finish_chat(call, result)


def _no_sdk_retries(kwargs: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM's own retries (`num_retries`) and those of the SDK it calls (`max_retries`) off."""
    return {**kwargs, "num_retries": 0, "max_retries": 0}


# (attribute of the `litellm` package, operation, is_async)
_FUNCTIONS = (
    ("completion", Operation(_begin_chat, _finish_chat, _no_sdk_retries), False),
    ("acompletion", Operation(_begin_chat, _finish_async_chat, _no_sdk_retries), True),
    ("embedding", Operation(_begin_embeddings, _finish_embeddings, _no_sdk_retries), False),
    ("aembedding", Operation(_begin_embeddings, _finish_embeddings, _no_sdk_retries), True),
)


class LiteLLMInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_litellm`: the module-level functions of the `litellm` package."""

    library = "litellm"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        return [
            PatchPoint("litellm", "", name, operation, is_async) for name, operation, is_async in _FUNCTIONS
        ]
