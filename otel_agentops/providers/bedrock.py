"""AWS Bedrock through boto3 / botocore: the ``bedrock-runtime`` client's model calls.

Patched (sync only: botocore has no async client; aiobotocore is not instrumented):

* ``converse`` and ``converse_stream`` (Bedrock's model-independent message API; the streamed reply's
  ``stream`` is a botocore `EventStream`, replaced by a proxy that ends the span exactly once);
* ``invoke_model`` and ``invoke_model_with_response_stream`` with Anthropic's Messages body
  (``anthropic_version: bedrock-2023-05-31``): the reply and each ``chunk`` carry Anthropic's own shapes and
  go through the Anthropic extractors (`otel_agentops.providers.anthropic`). The non-streamed ``body`` is read
  once and handed back as an equivalent, unread `StreamingBody`. Other model families get a span with the
  request facts only.

How: botocore builds a new client class per client (``ClientCreator._create_client_class``). That method is
wrapped, and the four API methods of each ``bedrock-runtime`` class are wrapped as it is created; classes
created before instrumentation are found among `BaseClient`'s subclasses. Clients of every other service are
never touched, so their calls cost nothing extra (unlike wrapping ``BaseClient._make_api_call``).

Policies: the policy chain knows a call's model as ``model``; botocore's is ``modelId``. The chain is handed
the request with ``model`` (so per-model policies, fallback models and rate limits apply) and each attempt is
sent to botocore with ``modelId`` again. When our retry policy owns the retry budget, botocore's own retries
(its ``needs-retry`` loop in ``Endpoint._needs_retry``; ``legacy`` mode makes up to 5 attempts, ``standard``
3) are switched off for that call only, through a per-client gate (`otel_agentops.policies.classify`
reads ``ClientError`` status codes and botocore's connection errors, so our retry covers what botocore's did).

Token usage: like Anthropic's, Bedrock's ``inputTokens`` excludes cached tokens; ``gen_ai.usage.input_tokens``
is the whole prompt (``inputTokens + cacheReadInputTokens + cacheWriteInputTokens``) and the cost prices the
cached parts as cache reads / writes, so nothing is counted twice.

Finish reasons are Bedrock's ``stopReason`` values as sent (``end_turn``, ``tool_use``, ``max_tokens``,
``stop_sequence``, ``guardrail_intervened``, ``content_filtered``): the values the Anthropic SDK reports
for the same models, so one model family reads the same whichever client called it.

Errors are botocore's: ``error.type`` is the modelled exception class (``botocore.errorfactory.
ThrottlingException``, ``...ValidationException``) or ``botocore.exceptions.ClientError``.
"""

from __future__ import annotations

import io
import json
import weakref
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.utils import unwrap

from otel_agentops.config import Settings
from otel_agentops.genai import semconv
from otel_agentops.genai.call import IN_GENAI_CALL, GenAICall
from otel_agentops.genai.endpoint import url_attributes
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.fields import field
from otel_agentops.genai.results import finisher
from otel_agentops.genai.stream import ChunkHandler, SyncStreamProxy
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.genai.wrapping import Operation, Wrapper, sync_wrapper
from otel_agentops.providers import anthropic as anthropic_provider
from otel_agentops.providers.base import PatchPoint, ProviderInstrumentor

_INSTRUMENTS = ("botocore >= 1.34, < 2",)
PROVIDER = "aws.bedrock"
SERVICE = "bedrock-runtime"
# Set while one of our calls sends an attempt with botocore's own retries switched off.
_NO_SDK_RETRIES: ContextVar[bool] = ContextVar("otel_agentops_bedrock_no_sdk_retries", default=False)

# Converse's inferenceConfig keys -> span attributes.
_INFERENCE_PARAMS = (
    ("maxTokens", semconv.REQUEST_MAX_TOKENS),
    ("temperature", semconv.REQUEST_TEMPERATURE),
    ("topP", semconv.REQUEST_TOP_P),
)
_EXTRA_PARAMS = (("top_k", semconv.REQUEST_TOP_K),)


# ---------------------------------------------------------------- request side


def _base_attributes(client: Any, model: Any, streaming: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {semconv.OPERATION_NAME: semconv.OP_CHAT, semconv.PROVIDER_NAME: PROVIDER}
    endpoint_url = getattr(getattr(client, "meta", None), "endpoint_url", None)
    if isinstance(endpoint_url, str):
        attrs.update(url_attributes(endpoint_url))
    if isinstance(model, str) and model:
        attrs[semconv.REQUEST_MODEL] = model
    if streaming:
        attrs[semconv.REQUEST_STREAM] = True
    return attrs


def _request_params(
    attrs: dict[str, Any], source: Any, params: Sequence[tuple[str, str]], stop_key: str
) -> None:
    """Sampling parameters and stop sequences from a request's dict (Converse's inferenceConfig, or the
    Anthropic body of InvokeModel)."""
    if not isinstance(source, Mapping):
        return
    for key, attribute in params:
        value = source.get(key)
        if value is not None:
            attrs[attribute] = value
    stop = source.get(stop_key)
    if stop:
        attrs[semconv.REQUEST_STOP_SEQUENCES] = list(stop)


def _converse_params(attrs: dict[str, Any], kwargs: Mapping[str, Any]) -> None:
    _request_params(attrs, kwargs.get("inferenceConfig"), _INFERENCE_PARAMS, "stopSequences")
    # Model-specific fields (Anthropic's top_k) travel in additionalModelRequestFields.
    _request_params(attrs, kwargs.get("additionalModelRequestFields"), _EXTRA_PARAMS, "stop_sequences")


def _invoke_body(kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The InvokeModel request body as JSON, when it was given as bytes or text (not a file)."""
    body = kwargs.get("body")
    if not isinstance(body, (bytes, bytearray, str)):
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _begin(
    telemetry: Telemetry, client: Any, kwargs: Mapping[str, Any], *, streaming: bool, invoke: bool
) -> GenAICall:
    model = kwargs.get("model", kwargs.get("modelId"))
    attrs = _base_attributes(client, model, streaming)
    body = _invoke_body(kwargs) if invoke else None
    if body is not None:
        _request_params(attrs, body, anthropic_provider._PARAMS, "stop_sequences")
    elif not invoke:
        _converse_params(attrs, kwargs)
    call = GenAICall(telemetry, semconv.OP_CHAT, PROVIDER, model if isinstance(model, str) else None, attrs)
    # From here on the call exists and must be returned: anything optional fails on its own.
    try:
        if streaming:
            call.stream_state = anthropic_provider._StreamState() if invoke else _ConverseStream()
        if telemetry.capture_content:
            if invoke:
                _capture_invoke_request(call, body)
            else:
                _capture_converse_request(call, kwargs)
    except Exception as exc:
        report_internal_error("request extraction", exc)
    return call


def _begin_for(*, streaming: bool, invoke: bool) -> Callable[..., GenAICall]:
    def begin(
        telemetry: Telemetry, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> GenAICall:
        return _begin(telemetry, instance, kwargs, streaming=streaming, invoke=invoke)

    return begin


# ---------------------------------------------------------------- content (opt-in) shapes


def _tool_result_item(item: Mapping[str, Any]) -> dict[str, Any]:
    if "text" in item:
        return {"type": "text", "text": item["text"]}
    if "json" in item:
        return {"type": "json", "json": item["json"]}
    return {"type": next(iter(item), "unknown")}  # image / document / video: the kind, never the bytes


def _tool_result_response(content: Any) -> Any:
    if not isinstance(content, list):
        return content
    return [_tool_result_item(item) for item in content if isinstance(item, Mapping)]


def _converse_part(block: Mapping[str, Any]) -> dict[str, Any]:
    """One Converse content block in the semantic conventions' part shape (binary content: its kind only)."""
    if "text" in block:
        return {"type": "text", "content": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {
            "type": "tool_call",
            "id": field(use, "toolUseId"),
            "name": field(use, "name"),
            "arguments": field(use, "input"),
        }
    if "toolResult" in block:
        result = block["toolResult"]
        return {
            "type": "tool_call_response",
            "id": field(result, "toolUseId"),
            "response": _tool_result_response(field(result, "content")),
        }
    if "reasoningContent" in block:
        text = field(field(block["reasoningContent"], "reasoningText"), "text")
        return {"type": "reasoning", "content": text}
    return {"type": next(iter(block), "unknown")}


def _converse_parts(content: Any) -> list[dict[str, Any]]:
    # cachePoint blocks mark a cache boundary; they are not content.
    return [_converse_part(b) for b in content or () if isinstance(b, Mapping) and "cachePoint" not in b]


def _capture_converse_request(call: GenAICall, kwargs: Mapping[str, Any]) -> None:
    call.set_content(semconv.SYSTEM_INSTRUCTIONS, _converse_parts(kwargs.get("system")) or None)
    messages = kwargs.get("messages") or ()
    call.set_content(
        semconv.INPUT_MESSAGES,
        [{"role": field(m, "role"), "parts": _converse_parts(field(m, "content"))} for m in messages],
    )
    tools = field(kwargs.get("toolConfig"), "tools")
    if tools:
        specs = [field(tool, "toolSpec") for tool in tools]
        call.set_content(
            semconv.TOOL_DEFINITIONS,
            [
                {
                    "type": "function",
                    "name": field(spec, "name"),
                    "description": field(spec, "description"),
                    "parameters": field(field(spec, "inputSchema"), "json"),
                }
                for spec in specs
                if spec is not None
            ],
        )


def _capture_invoke_request(call: GenAICall, body: Mapping[str, Any] | None) -> None:
    if body is None:
        return
    call.set_content(semconv.SYSTEM_INSTRUCTIONS, anthropic_provider._system_parts(body.get("system")))
    call.set_content(semconv.INPUT_MESSAGES, anthropic_provider._input_messages(body.get("messages") or ()))
    call.set_content(semconv.TOOL_DEFINITIONS, body.get("tools"))


# ---------------------------------------------------------------- response side: Converse


def _converse_usage(call: GenAICall, usage: Any) -> None:
    if not isinstance(usage, Mapping):
        return
    cache_read = usage.get("cacheReadInputTokens") or 0
    cache_write = usage.get("cacheWriteInputTokens") or 0
    call.input_tokens = (usage.get("inputTokens") or 0) + cache_read + cache_write
    call.cache_read_tokens = cache_read
    call.cache_write_tokens = cache_write
    call.output_tokens = usage.get("outputTokens")


def _converse_response(call: GenAICall, response: Mapping[str, Any]) -> None:
    _converse_usage(call, response.get("usage"))
    reason = response.get("stopReason")
    if reason:
        call.finish_reasons = [reason]
    content = field(field(field(response, "output"), "message"), "content") or ()
    for block in content:
        use = field(block, "toolUse")
        if use is not None:
            call.add_tool_call(field(use, "name"), field(use, "toolUseId"))
    if call.telemetry.capture_content:
        call.output_messages = [
            {"role": "assistant", "parts": _converse_parts(content), "finish_reason": reason}
        ]


class _ConverseStream:
    """What a ConverseStream adds up to; with content capture, the output parts by content block index."""

    __slots__ = ("json", "parts", "reason")

    def __init__(self) -> None:
        self.parts: dict[int, dict[str, Any]] = {}
        self.json: dict[int, list[str]] = {}
        self.reason: str | None = None

    def part(self, index: int, kind: str) -> dict[str, Any]:
        part = self.parts.get(index)
        if part is None:
            part = self.parts[index] = {"type": kind, "content": ""}
        return part

    def finish(self, call: GenAICall) -> None:
        """Called once by the call's end: the output message from what arrived (arguments parsed if whole)."""
        if not call.telemetry.capture_content or not self.parts:
            return
        for index, fragments in self.json.items():
            text = "".join(fragments)
            try:
                self.parts[index]["arguments"] = json.loads(text) if text else {}
            except ValueError:
                self.parts[index]["arguments"] = text
        parts = [self.parts[index] for index in sorted(self.parts)]
        call.output_messages = [{"role": "assistant", "parts": parts, "finish_reason": self.reason}]


def _converse_event(call: GenAICall, event: Any) -> None:
    state: _ConverseStream = call.stream_state
    capture = call.telemetry.capture_content
    if "contentBlockDelta" in event:
        if capture:
            _converse_delta(state, event["contentBlockDelta"])
    elif "contentBlockStart" in event:
        body = event["contentBlockStart"]
        use = field(field(body, "start"), "toolUse")
        if use is not None:
            call.add_tool_call(field(use, "name"), field(use, "toolUseId"))
            if capture:
                index = field(body, "contentBlockIndex") or 0
                state.parts[index] = {
                    "type": "tool_call",
                    "id": field(use, "toolUseId"),
                    "name": field(use, "name"),
                    "arguments": None,
                }
                state.json[index] = []
    elif "messageStop" in event:
        reason = field(event["messageStop"], "stopReason")
        if reason:
            call.finish_reasons = [reason]
            state.reason = reason
    elif "metadata" in event:
        _converse_usage(call, field(event["metadata"], "usage"))


def _converse_delta(state: _ConverseStream, body: Any) -> None:
    index = field(body, "contentBlockIndex") or 0
    delta = field(body, "delta") or {}
    if "text" in delta:
        state.part(index, "text")["content"] += delta["text"] or ""
    elif "toolUse" in delta and index in state.json:
        state.json[index].append(field(delta["toolUse"], "input") or "")
    elif "reasoningContent" in delta:
        state.part(index, "reasoning")["content"] += field(delta["reasoningContent"], "text") or ""


# ---------------------------------------------------------------- response side: InvokeModel (Anthropic)


class _UnreadableBody:
    """The body of an InvokeModel reply whose reading failed: the app gets the same error when it reads."""

    def __init__(self, error: BaseException) -> None:
        self._error = error

    def read(self, *_args: Any, **_kwargs: Any) -> bytes:
        raise self._error

    def close(self) -> None:
        pass


def _invoke_message(call: GenAICall, data: bytes) -> None:
    try:
        message = json.loads(data)
    except ValueError:
        return
    if isinstance(message, dict) and message.get("type") == "message":
        anthropic_provider._message_response(call, message)


def _finish_invoke(call: GenAICall, result: Any) -> Any:
    from botocore.response import StreamingBody

    body = result.get("body") if isinstance(result, dict) else None
    if body is not None:
        try:
            data = body.read()
        except Exception as exc:  # the reply was cut: the call failed, and so will the app's read
            result["body"] = _UnreadableBody(exc)
            call.end(exc)
            return result
        # The app reads the body as if we never had.
        result["body"] = StreamingBody(io.BytesIO(data), len(data))
        _invoke_message(call, data)
    call.end()
    return result


def _invoke_chunk(call: GenAICall, event: Any) -> None:
    data = field(field(event, "chunk"), "bytes")
    if data:
        anthropic_provider._stream_event(call, json.loads(data))


# ---------------------------------------------------------------- streams and operations


class _EventIterator(wrapt.ObjectProxy):  # type: ignore[misc]
    """botocore's `EventStream` (iterable, not an iterator) as an iterator, for the stream proxy."""

    def __init__(self, wrapped: Any) -> None:
        super().__init__(wrapped)
        self._self_events: Iterator[Any] = iter(wrapped)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self._self_events)


def _finish_stream(key: str, on_event: ChunkHandler) -> Callable[[GenAICall, Any], Any]:
    """The `finish` of a streaming operation: the reply's event stream (under `key`) is proxied."""

    def finish(call: GenAICall, result: Any) -> Any:
        stream = result.get(key) if isinstance(result, dict) else None
        if stream is None:
            call.end()
            return result
        result[key] = SyncStreamProxy(_EventIterator(stream), call, on_event)
        return result

    return finish


_OPERATIONS: Mapping[str, Operation] = {
    "converse": Operation(
        _begin_for(streaming=False, invoke=False), finisher(_converse_response, lambda _call: _converse_event)
    ),
    "converse_stream": Operation(
        _begin_for(streaming=True, invoke=False), _finish_stream("stream", _converse_event)
    ),
    "invoke_model": Operation(_begin_for(streaming=False, invoke=True), _finish_invoke),
    "invoke_model_with_response_stream": Operation(
        _begin_for(streaming=True, invoke=True), _finish_stream("body", _invoke_chunk)
    ),
}


# ---------------------------------------------------------------- patching


_gated_endpoints: weakref.WeakSet[Any] = weakref.WeakSet()


def _gate_sdk_retries(client: Any) -> bool:
    """Make this client's retry loop skippable per call (`_NO_SDK_RETRIES`); False when it cannot be."""
    endpoint = getattr(client, "_endpoint", None)
    if endpoint is None or endpoint in _gated_endpoints:
        return endpoint is not None
    needs_retry = getattr(endpoint, "_needs_retry", None)
    if not callable(needs_retry):
        return False

    def gated(*args: Any, **kwargs: Any) -> Any:
        return False if _NO_SDK_RETRIES.get() else needs_retry(*args, **kwargs)

    endpoint._needs_retry = gated
    _gated_endpoints.add(endpoint)
    return True


def _ungate_sdk_retries() -> None:
    for endpoint in list(_gated_endpoints):
        endpoint.__dict__.pop("_needs_retry", None)
    _gated_endpoints.clear()


def _keyed_by_model(wrapper: Wrapper, telemetry: Telemetry) -> Wrapper:
    """`wrapper` (our call around a botocore method) seeing ``model`` where botocore takes ``modelId``."""

    def outer(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if "modelId" not in kwargs or "model" in kwargs:
            return wrapper(wrapped, instance, args, kwargs)
        renamed = dict(kwargs)
        renamed["model"] = renamed.pop("modelId")

        def send(*send_args: Any, model: Any, **send_kwargs: Any) -> Any:
            chain = telemetry.policies
            call = otel_context.get_value(IN_GENAI_CALL)
            if not isinstance(call, GenAICall):
                return wrapped(*send_args, modelId=model, **send_kwargs)
            token = None
            if chain is not None and chain.wants_sdk_retries_off(call, {"model": model}):
                token = _NO_SDK_RETRIES.set(True) if _gate_sdk_retries(instance) else None
            try:
                result = wrapped(*send_args, modelId=model, **send_kwargs)
            finally:
                if token is not None:
                    _NO_SDK_RETRIES.reset(token)
            # Converse replies do not name their model: the one that answered is the one this attempt went
            # to (maybe a fallback model). Anthropic's InvokeModel replies overwrite it with their own name.
            call.response_model = model
            return result

        return wrapper(send, instance, args, renamed)

    return outer


def _is_bedrock_runtime_class(cls: type) -> bool:
    names = cls.__dict__.get("_PY_TO_OP_NAME")
    return isinstance(names, dict) and names.get("converse") == "Converse" and "invoke_model" in names


def _client_classes(base: type) -> Iterator[type]:
    seen: set[type] = set()
    stack = list(base.__subclasses__())
    while stack:
        cls = stack.pop()
        if cls not in seen:
            seen.add(cls)
            stack.extend(cls.__subclasses__())
            yield cls


class BedrockInstrumentor(ProviderInstrumentor):
    """Entry point `agentops_bedrock`."""

    library = "botocore"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def patch_points(self) -> Sequence[PatchPoint]:
        return ()  # botocore's classes are made at run time: see _patch_now

    def _patch_now(self, **kwargs: Any) -> None:
        from botocore.client import BaseClient, ClientCreator

        self._patched = []
        self._classes: weakref.WeakSet[type] = weakref.WeakSet()
        telemetry = Telemetry(
            Settings.from_env(),
            tracer_provider=kwargs.get("tracer_provider"),
            meter_provider=kwargs.get("meter_provider"),
            logger_provider=kwargs.get("logger_provider"),
        )
        self._wrappers = {
            name: _keyed_by_model(sync_wrapper(telemetry, op), telemetry) for name, op in _OPERATIONS.items()
        }

        def on_client_class(wrapped: Callable[..., Any], _instance: Any, args: Any, kw: Any) -> Any:
            cls = wrapped(*args, **kw)
            try:
                service = args[0] if args else kw.get("service_name")
                if service == SERVICE or _is_bedrock_runtime_class(cls):
                    self._patch_class(cls)
            except Exception as exc:
                report_internal_error("instrumenting a bedrock-runtime client", exc)
            return cls

        wrapt.wrap_function_wrapper(ClientCreator, "_create_client_class", on_client_class)
        self._patched.append((ClientCreator, "_create_client_class"))
        for cls in _client_classes(BaseClient):
            if _is_bedrock_runtime_class(cls):
                self._patch_class(cls)

    def _patch_class(self, cls: type) -> None:
        if cls in self._classes:
            return
        for name, wrapper in self._wrappers.items():
            if callable(cls.__dict__.get(name)):
                wrapt.wrap_function_wrapper(cls, name, wrapper)
        self._classes.add(cls)

    def _unpatch_now(self, **kwargs: Any) -> None:
        for cls in list(getattr(self, "_classes", ())):
            for name in self._wrappers:
                if isinstance(cls.__dict__.get(name), wrapt.FunctionWrapper):
                    unwrap(cls, name)
        self._classes = weakref.WeakSet()
        _ungate_sdk_retries()
        super()._unpatch_now(**kwargs)
