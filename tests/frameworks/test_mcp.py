"""MCP tool calls against a real MCP server over stdio: execute_tool spans, errors, propagation, content."""

from __future__ import annotations

import json
import os
import sys
from contextlib import asynccontextmanager
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from opentelemetry.trace import format_span_id, format_trace_id

import otel_agentops
from otel_agentops import tool
from otel_agentops.genai import semconv

SERVER = Path(__file__).resolve().parent.parent / "apps" / "mcp_server.py"
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
TIMEOUT = 30
# mcp 1.x takes a timedelta for a call's read timeout, 2.x seconds.
SHORT_READ_TIMEOUT = 0.2 if int(version("mcp").split(".")[0]) >= 2 else timedelta(seconds=0.2)


@asynccontextmanager
async def orders_server():
    """An initialized session with tests/apps/mcp_server.py; its stderr (failing tools' tracebacks) muted."""
    parameters = StdioServerParameters(command=sys.executable, args=[str(SERVER)])
    with anyio.fail_after(TIMEOUT), open(os.devnull, "w") as errors:
        async with (
            stdio_client(parameters, errlog=errors) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            yield session


def expect_mcp_tool_span(span, name):
    assert span.name == f"execute_tool {name}"
    assert span.kind.name == "INTERNAL"
    attributes = dict(span.attributes)
    assert attributes.pop(semconv.OPERATION_NAME) == "execute_tool"
    assert attributes.pop(semconv.TOOL_NAME) == name
    assert attributes.pop(semconv.TOOL_TYPE) == "extension"
    assert attributes.pop(semconv.MCP_METHOD_NAME) == "tools/call"
    assert attributes.pop(semconv.MCP_SERVER_NAME) == "orders"
    assert attributes.pop(semconv.MCP_PROTOCOL_VERSION)  # whatever both sides negotiated
    return attributes


async def test_tool_call_is_an_execute_tool_span_and_the_server_joins_the_trace(instrumented):
    async with orders_server() as session:
        result = await session.call_tool("lookup_order", {"order_id": "A1"})
    assert getattr(result, "is_error", getattr(result, "isError", None)) is False

    [span] = instrumented.spans()
    assert expect_mcp_tool_span(span, "lookup_order") == {}  # no arguments or results without capture
    assert span.parent is None
    assert span.status.status_code.name == "UNSET"
    # The server saw our span as its parent in params._meta (SEP-414), so its spans join this trace.
    answer = json.loads(result.content[0].text)
    version, trace_id, parent_id, _flags = answer["traceparent"].split("-")
    assert (version, trace_id) == ("00", format_trace_id(span.context.trace_id))
    assert parent_id == format_span_id(span.context.span_id)

    [calls] = instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    assert dict(calls.attributes) == {semconv.TOOL_NAME: "lookup_order", semconv.TOOL_CALL_ORIGIN: "executed"}


async def test_result_with_is_error_is_a_tool_error(instrumented):
    async with orders_server() as session:
        result = await session.call_tool("cancel_order", {"order_id": "A1"})
    assert getattr(result, "is_error", getattr(result, "isError", None)) is True

    [span] = instrumented.spans()
    attributes = expect_mcp_tool_span(span, "cancel_order")
    assert attributes == {semconv.ERROR_TYPE: "tool_error"}
    assert span.status.status_code.name == "ERROR"
    [duration] = instrumented.metric_points(semconv.METRIC_AGENT_OPERATION_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == "tool_error"  # the metric says it failed too


async def test_exception_is_recorded_with_the_json_rpc_code(instrumented):
    async with orders_server() as session:
        with pytest.raises(Exception) as raised:
            await session.call_tool("slow_lookup", {"seconds": 5}, read_timeout_seconds=SHORT_READ_TIMEOUT)

    [span] = instrumented.spans()
    attributes = expect_mcp_tool_span(span, "slow_lookup")
    code = raised.value.error.code
    assert attributes == {
        semconv.ERROR_TYPE: f"mcp.{type(raised.value).__name__}",
        semconv.RPC_RESPONSE_STATUS_CODE: str(code),
    }
    assert span.status.status_code.name == "ERROR"


async def test_arguments_and_results_only_with_content_capture(instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    async with orders_server() as session:
        await session.call_tool("lookup_order", {"order_id": "A1"})
        await session.call_tool("cancel_order", {"order_id": "B2"})

    looked_up, cancelled = telemetry.spans()
    attributes = expect_mcp_tool_span(looked_up, "lookup_order")
    assert json.loads(attributes.pop(semconv.TOOL_CALL_ARGUMENTS)) == {"order_id": "A1"}
    result = json.loads(attributes.pop(semconv.TOOL_CALL_RESULT))
    assert result["status"] == "shipped"
    assert attributes == {}
    # A failed execution has arguments but no result (the MCP conventions record only successful ones).
    attributes = expect_mcp_tool_span(cancelled, "cancel_order")
    assert json.loads(attributes.pop(semconv.TOOL_CALL_ARGUMENTS)) == {"order_id": "B2"}
    assert attributes == {semconv.ERROR_TYPE: "tool_error"}


async def test_a_call_inside_a_tool_span_for_that_tool_enriches_it(instrumented):
    async with orders_server() as session:

        @tool
        async def cancel_order(order_id):
            return await session.call_tool("cancel_order", {"order_id": order_id})

        await cancel_order("A1")

    [span] = instrumented.spans()  # one span for one tool execution, not one per instrumentation
    attributes = expect_mcp_tool_span(span, "cancel_order")
    assert attributes == {semconv.ERROR_TYPE: "tool_error"}
    assert span.status.status_code.name == "ERROR"


async def test_a_langchain_tool_backed_by_mcp_is_one_span(instrumented):
    from langchain_core.tools import StructuredTool

    async with orders_server() as session:

        async def lookup(order_id: str) -> str:
            return (await session.call_tool("lookup_order", {"order_id": order_id})).content[0].text

        langchain_tool = StructuredTool.from_function(
            coroutine=lookup, name="lookup_order", description="Look up an order."
        )
        await langchain_tool.ainvoke({"order_id": "A1"})

    [span] = instrumented.spans()
    assert expect_mcp_tool_span(span, "lookup_order") == {}


async def test_calls_inside_an_agent_are_its_children(instrumented):
    async with orders_server() as session:
        with otel_agentops.agent("support"):
            await session.call_tool("lookup_order", {"order_id": "A1"})
            await session.call_tool("lookup_order", {"order_id": "B2"})

    *tools, agent = instrumented.spans()
    assert agent.name == "invoke_agent support"
    assert [s.name for s in tools] == ["execute_tool lookup_order"] * 2
    assert {s.parent.span_id for s in tools} == {agent.context.span_id}


async def test_uninstrument_restores_the_client(instrumented):
    assert hasattr(ClientSession.call_tool, "__wrapped__")
    otel_agentops.uninstrument()
    assert not hasattr(ClientSession.call_tool, "__wrapped__")
    assert not hasattr(ClientSession.initialize, "__wrapped__")
    async with orders_server() as session:
        result = await session.call_tool("lookup_order", {"order_id": "A1"})
    assert json.loads(result.content[0].text)["traceparent"] is None
    assert instrumented.spans() == []
