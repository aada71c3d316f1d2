"""Entry point `agentops_mcp`: tool calls through the MCP client become `execute_tool {tool}` spans.

Patched (async, mcp 1.x and 2.x): `ClientSession.call_tool`, `Client.call_tool` (2.x; one user call that
may send several `tools/call` requests, input-required rounds or a re-send after a header mismatch) and
`ClientSession.initialize`, whose result names the server.

Span attributes, after the MCP semantic conventions (client side): `gen_ai.tool.name`,
`gen_ai.tool.type` "extension", `mcp.method.name` "tools/call", `mcp.protocol.version`, the server's
self-declared name as `agentops.mcp.server.name`, `error.type` for exceptions (plus
`rpc.response.status_code` with the JSON-RPC error code) and "tool_error" for a result with
`isError: true`; tool arguments and results only with content capture.

One span per tool execution: when an `execute_tool` span for the same tool is already current (our
`@tool` decorator, the LangChain instrumentation around a LangChain tool backed by MCP, or the
`Client.call_tool` span around the session call it makes), the MCP attributes go onto that span instead,
as the MCP conventions ask of an MCP instrumentation below a GenAI one.

Trace context goes to the server in `params._meta` (`traceparent`, `tracestate`, `baggage`; MCP SEP-414
and the MCP semantic conventions), through the configured propagators. mcp 2.x also injects by itself
from its own `MCP send tools/call` client span, a child of ours, and its value wins; mcp 1.x does not,
so without ours the server's spans would start a new trace.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, Status, StatusCode

from otel_agentops.agents.spans import TOOL
from otel_agentops.frameworks.base import FrameworkInstrumentor, resolve
from otel_agentops.genai import semconv
from otel_agentops.genai.failsafe import report_internal_error

_INSTRUMENTS = ("mcp >= 1.0, < 3",)
_SESSION_MODULE = "mcp.client.session"
_CLIENT_MODULE = "mcp.client.client"

# Per session, what its initialize result said: (attribute, value) pairs for its tool spans.
_servers: WeakKeyDictionary[Any, dict[str, str]] = WeakKeyDictionary()


def _field(obj: Any, *names: str) -> Any:
    """The first present field: mcp 2.x models use snake_case attributes, 1.x the wire's camelCase."""
    for name in names:
        value = getattr(obj, name, None)
        if value is not None:
            return value
    return None


def _server_attributes(result: Any) -> dict[str, str]:
    attributes = {}
    name = _field(_field(result, "server_info", "serverInfo"), "name")
    if name:
        attributes[semconv.MCP_SERVER_NAME] = str(name)
    version = _field(result, "protocol_version", "protocolVersion")
    if version:
        attributes[semconv.MCP_PROTOCOL_VERSION] = str(version)
    return attributes


async def _initialize(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
    result = await wrapped(*args, **kwargs)
    try:
        _servers[instance] = _server_attributes(result)
    except Exception as exc:
        report_internal_error("reading the MCP initialize result", exc)
    return result


def _attributes_of(instance: Any) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        semconv.TOOL_TYPE: semconv.TOOL_TYPE_EXTENSION,
        semconv.MCP_METHOD_NAME: semconv.MCP_METHOD_TOOLS_CALL,
    }
    try:
        # mcp 2.x `Client` holds its session (and raises while it is not connected).
        session = (
            instance.session if isinstance(getattr(type(instance), "session", None), property) else instance
        )
        known = _servers.get(session)
        # mcp 2.x sessions negotiated without initialize (server/discover) expose both as properties.
        attributes.update(known if known is not None else _server_attributes(session))
    except Exception as exc:
        report_internal_error("reading the MCP session", exc)
    return attributes


def _enclosing_tool_span(name: str) -> Span | None:
    span = trace.get_current_span()
    attributes = getattr(span, "attributes", None)
    if (
        span.is_recording()
        and attributes
        and attributes.get(semconv.OPERATION_NAME) == TOOL
        and attributes.get(semconv.TOOL_NAME) == name
    ):
        return span
    return None


def _with_trace_context(kwargs: dict[str, Any]) -> dict[str, Any]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    meta = kwargs.get("meta")
    if not carrier or not (meta is None or isinstance(meta, Mapping)):
        return kwargs
    # Keys the caller set themselves win; the caller's mapping is never modified.
    return {**kwargs, "meta": {**carrier, **(meta or {})}}


def _is_error(result: Any) -> bool:
    return _field(result, "is_error", "isError") is True


def _result_content(result: Any) -> Any:
    dump = getattr(result, "model_dump", None)
    if dump is None:
        return result
    data = dump(mode="json", by_alias=True, exclude_none=True)
    structured = data.get("structuredContent")
    return structured if structured is not None else data.get("content")


def _mark_tool_error(span: Span) -> None:
    span.set_attribute(semconv.ERROR_TYPE, semconv.ERROR_TYPE_TOOL_ERROR)
    span.set_status(Status(StatusCode.ERROR, semconv.ERROR_TYPE_TOOL_ERROR))


def _record_rpc_error(span: Span, error: BaseException) -> None:
    code = _field(_field(error, "error"), "code")
    if isinstance(code, int):
        span.set_attribute(semconv.RPC_RESPONSE_STATUS_CODE, str(code))


class MCPInstrumentor(FrameworkInstrumentor):
    library = "mcp"

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _patch(self) -> None:
        self._wrap(_SESSION_MODULE, "ClientSession.initialize", _initialize)
        for module, path in (
            (_SESSION_MODULE, "ClientSession.call_tool"),
            (_CLIENT_MODULE, "Client.call_tool"),
        ):
            target = resolve(module, path)
            if target is None:
                continue
            owner, attribute, original = target
            # Early 1.x releases have no `meta` parameter: there is then nowhere standard to put the context.
            accepts_meta = "meta" in inspect.signature(original).parameters
            self._wrap_attribute(owner, attribute, self._call_tool(accepts_meta))

    def _call_tool(self, accepts_meta: bool) -> Callable[..., Any]:
        telemetry = self.telemetry

        async def call_tool(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
            name = str(args[0] if args else kwargs.get("name"))
            arguments = args[1] if len(args) > 1 else kwargs.get("arguments")
            attributes = _attributes_of(instance)
            enclosing = _enclosing_tool_span(name)
            if enclosing is not None:
                enclosing.set_attributes(attributes)
                result = await wrapped(*args, **(_with_trace_context(kwargs) if accepts_meta else kwargs))
                if _is_error(result):
                    _mark_tool_error(enclosing)
                return result
            with telemetry.start(TOOL, name, attributes=attributes) as span:
                span.record_arguments(arguments)
                try:
                    # Injected inside the span, so the server's spans become its children.
                    result = await wrapped(*args, **(_with_trace_context(kwargs) if accepts_meta else kwargs))
                except BaseException as exc:
                    _record_rpc_error(span.span, exc)
                    raise
                if _is_error(result):
                    span.mark_error(semconv.ERROR_TYPE_TOOL_ERROR)
                else:
                    span.record_result(_result_content(result))
                return result

        return call_tool
