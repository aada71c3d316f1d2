"""LangGraph / LangChain runs as invoke_agent / execute_tool spans, and one LLM span per model call."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import sys
import types
import warnings
from pathlib import Path

import openai
import pytest
from apps import langgraph_app as app
from langchain_core.callbacks import BaseCallbackManager, CallbackManager
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import config as runnable_config
from opentelemetry import trace
from support.instrumented import json_spans, run_instrumented

import otel_agentops
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv

ROOT = Path(__file__).resolve().parent.parent.parent
APP = ROOT / "tests" / "apps" / "langgraph_app.py"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
CHAT = "chat gpt-4o-mini"
AGENT = "invoke_agent support-agent"


def model(fake_provider):
    # langchain-openai caches its default async HTTP client per base URL, and every async test has an
    # event loop of its own: a client of the model's own keeps the tests independent.
    return app.chat_model(fake_provider.openai_base_url, http_async_client=openai.DefaultAsyncHttpxClient())


@pytest.fixture
def no_detach_errors(caplog):
    """Fails the test if OpenTelemetry reported a context detached in the wrong place."""
    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        yield
    assert not [r for r in caplog.records if "detach" in r.getMessage()]


async def run(agent, mode, text):
    state = {"messages": [("user", text)]}
    if mode == "sync":
        return agent.invoke(state)
    return await agent.ainvoke(state)


def named(spans, name):
    return [s for s in spans if s.name == name]


def expect_tool_span(span, name, call_id):
    assert span.kind.name == "INTERNAL"
    attributes = dict(span.attributes)
    assert attributes.pop(semconv.OPERATION_NAME) == "execute_tool"
    assert attributes.pop(semconv.TOOL_NAME) == name
    assert attributes.pop(semconv.TOOL_TYPE) == "function"
    assert attributes.pop(semconv.TOOL_CALL_ID) == call_id
    return attributes


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_react_agent_span_tree(mode, fake_provider, instrumented, no_detach_errors):
    agent = app.build_agent(model(fake_provider))
    result = await run(agent, mode, "please lookup_order A1")
    assert result["messages"][-1].content.startswith("Based on the tool result: Order ")

    spans = instrumented.spans()
    assert sorted(s.name for s in spans) == sorted([AGENT, CHAT, CHAT, "execute_tool lookup_order"])
    [agent_span] = named(spans, AGENT)
    [tool_span] = named(spans, "execute_tool lookup_order")
    chats = named(spans, CHAT)
    assert agent_span.parent is None
    assert agent_span.kind.name == "INTERNAL"
    assert {s.parent.span_id for s in [tool_span, *chats]} == {agent_span.context.span_id}
    assert agent_span.status.status_code.name == "UNSET"
    assert dict(agent_span.attributes) == {
        semconv.OPERATION_NAME: "invoke_agent",
        semconv.AGENT_NAME: "support-agent",
    }
    # The tool span carries the id of the model's tool call that asked for it: the two join up.
    [call_id] = chats[0].attributes[semconv.RESPONSE_TOOL_CALL_IDS]
    assert expect_tool_span(tool_span, "lookup_order", call_id) == {}  # no content without capture

    # Exactly one LLM span per request the model server received; tokens and cost only on those.
    assert len(chats) == fake_provider.request_count("/v1/chat/completions") == 2
    usage = [s for s in spans if semconv.USAGE_INPUT_TOKENS in s.attributes]
    assert usage == chats
    assert all(semconv.USAGE_COST not in s.attributes for s in spans if s not in chats)
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached in the caller


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_parallel_tool_calls(mode, fake_provider, instrumented, no_detach_errors):
    fake_provider.script(
        Reply(
            tool_calls=(
                ToolCall("lookup_order", {"order_id": "A1"}, id="call_a"),
                ToolCall("lookup_order", {"order_id": "B2"}, id="call_b"),
            )
        )
    )
    await run(app.build_agent(model(fake_provider)), mode, "two orders")

    spans = instrumented.spans()
    [agent_span] = named(spans, AGENT)
    tools = named(spans, "execute_tool lookup_order")
    assert sorted(s.attributes[semconv.TOOL_CALL_ID] for s in tools) == ["call_a", "call_b"]
    assert {s.parent.span_id for s in tools} == {agent_span.context.span_id}
    assert len(named(spans, CHAT)) == fake_provider.request_count("/v1/chat/completions") == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_failing_tool_handled_by_the_tool_node(mode, fake_provider, instrumented, no_detach_errors):
    agent = app.build_agent(model(fake_provider), handle_tool_errors=True)
    result = await run(agent, mode, "please cancel_order A1")
    assert "already shipped" in result["messages"][-2].content  # the error went back to the model

    spans = instrumented.spans()
    [tool_span] = named(spans, "execute_tool cancel_order")
    [agent_span] = named(spans, AGENT)
    call_id = tool_span.attributes[semconv.TOOL_CALL_ID]
    assert expect_tool_span(tool_span, "cancel_order", call_id) == {semconv.ERROR_TYPE: "ValueError"}
    assert tool_span.status.status_code.name == "ERROR"
    assert agent_span.status.status_code.name == "UNSET"  # the agent recovered
    assert len(named(spans, CHAT)) == 2


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_failing_tool_that_fails_the_agent(mode, fake_provider, instrumented, no_detach_errors):
    agent = app.build_agent(model(fake_provider), handle_tool_errors=False)
    with pytest.raises(ValueError, match="already shipped"):
        await run(agent, mode, "please cancel_order A1")

    spans = instrumented.spans()
    assert sorted(s.name for s in spans) == sorted([AGENT, CHAT, "execute_tool cancel_order"])
    for span in spans:
        if span.name != CHAT:
            assert span.attributes[semconv.ERROR_TYPE] == "ValueError"
            assert span.status.status_code.name == "ERROR"
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_prebuilt_react_agent(fake_provider, instrumented, no_detach_errors):
    from langgraph.prebuilt import create_react_agent

    with warnings.catch_warnings():  # moved to langchain.agents.create_agent, still the common spelling
        warnings.simplefilter("ignore")
        agent = create_react_agent(model(fake_provider), app.TOOLS, name="support-agent")
    agent.invoke({"messages": [("user", "please lookup_order A1")]})
    spans = instrumented.spans()
    [agent_span] = named(spans, AGENT)
    assert sorted(s.name for s in spans) == sorted([AGENT, CHAT, CHAT, "execute_tool lookup_order"])
    assert {s.parent.span_id for s in spans if s is not agent_span} == {agent_span.context.span_id}


def test_a_chain_is_a_workflow(fake_provider, instrumented, no_detach_errors):
    prompt = ChatPromptTemplate.from_messages([("user", "Summarise order {order_id}")])
    chain = prompt | model(fake_provider) | StrOutputParser()
    assert chain.invoke({"order_id": "A1"}).startswith("Fake answer to: Summarise order A1")

    (workflow,) = [s for s in instrumented.spans() if s.name != CHAT]
    [chat] = named(instrumented.spans(), CHAT)
    assert workflow.name == "invoke_workflow RunnableSequence"
    assert dict(workflow.attributes) == {
        semconv.OPERATION_NAME: "invoke_workflow",
        semconv.WORKFLOW_NAME: "RunnableSequence",
    }
    assert chat.parent.span_id == workflow.context.span_id


def test_a_model_call_alone_is_one_llm_span(fake_provider, instrumented):
    model(fake_provider).invoke("hi")
    assert [s.name for s in instrumented.spans()] == [CHAT]


def test_a_tool_called_directly(instrumented):
    assert app.lookup_order.invoke({"order_id": "A1"}) == "Order A1 has shipped."
    [span] = instrumented.spans()
    assert span.name == "execute_tool lookup_order"
    assert span.parent is None
    assert semconv.TOOL_CALL_ID not in span.attributes  # no model asked for it


def test_the_apps_own_span_in_a_node_stays_the_parent(fake_provider, instrumented, no_detach_errors):
    from langgraph.graph import START, MessagesState, StateGraph

    tracer = instrumented.tracer_provider.get_tracer("app")
    llm = model(fake_provider)

    def answer(state: MessagesState):
        with tracer.start_as_current_span("draft reply"):
            return {"messages": [llm.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("answer", answer)
    graph.add_edge(START, "answer")
    graph.compile(name="support-agent").invoke({"messages": [("user", "hi")]})

    spans = {s.name: s for s in instrumented.spans()}
    assert spans["draft reply"].parent.span_id == spans[AGENT].context.span_id
    assert spans[CHAT].parent.span_id == spans["draft reply"].context.span_id


def test_a_stream_closed_early_ends_the_agent_span(fake_provider, instrumented, no_detach_errors):
    agent = app.build_agent(model(fake_provider))
    stream = agent.stream({"messages": [("user", "please lookup_order A1")]})
    next(stream)
    stream.close()
    [agent_span] = named(instrumented.spans(), AGENT)
    assert agent_span.status.status_code.name == "UNSET"  # the consumer stopped; nothing failed
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_an_abandoned_async_stream(fake_provider, instrumented, no_detach_errors):
    agent = app.build_agent(model(fake_provider))
    stream = agent.astream({"messages": [("user", "please lookup_order A1")]})
    await stream.__anext__()
    # Dropped without aclose(): asyncio finalizes it in a task of its own, a context other than ours.
    del stream
    gc.collect()
    for _ in range(10):
        await asyncio.sleep(0.01)
    [agent_span] = named(instrumented.spans(), AGENT)
    assert agent_span.status.status_code.name == "UNSET"
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_tool_content_only_with_capture(fake_provider, instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})
    app.build_agent(model(fake_provider)).invoke({"messages": [("user", "please lookup_order A1")]})
    [tool_span] = named(telemetry.spans(), "execute_tool lookup_order")
    attributes = dict(tool_span.attributes)
    arguments = json.loads(attributes.pop(semconv.TOOL_CALL_ARGUMENTS))
    assert list(arguments) == ["order_id"]
    assert json.loads(attributes.pop(semconv.TOOL_CALL_RESULT)).startswith("Order ")


def test_uninstrument_restores_langchain(fake_provider, instrumented):
    assert hasattr(BaseCallbackManager.__init__, "__wrapped__")
    assert hasattr(runnable_config._set_config_context, "__wrapped__")
    otel_agentops.uninstrument()
    assert not hasattr(BaseCallbackManager.__init__, "__wrapped__")
    assert not hasattr(runnable_config._set_config_context, "__wrapped__")
    assert CallbackManager(handlers=[]).handlers == []
    app.build_agent(model(fake_provider)).invoke({"messages": [("user", "please lookup_order A1")]})
    assert instrumented.spans() == []


def test_modules_holding_the_config_context_function_by_name_are_patched_too(instrument, monkeypatch):
    # What langchain-core releases that imported it by name into the runnable modules look like.
    importer = types.ModuleType("langchain_core.by_name_importer")
    importer._set_config_context = runnable_config._set_config_context
    monkeypatch.setitem(sys.modules, importer.__name__, importer)
    instrument()
    assert importer._set_config_context.__wrapped__ is runnable_config._set_config_context.__wrapped__
    otel_agentops.uninstrument()
    assert not hasattr(importer._set_config_context, "__wrapped__")


def test_zero_code_under_opentelemetry_instrument():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="opentelemetry_instrumentor")}
    assert "agentops_langchain" in names, "entry point missing: add it to pyproject.toml and reinstall"
    env = {
        "OTEL_SERVICE_NAME": "langgraph-app",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "LANGSMITH_TRACING": "false",
    }
    result = run_instrumented([str(APP)], env, APP.parent)
    spans = json_spans(result.stdout)
    counts: dict[str, int] = {}
    for span in spans:
        counts[span["name"]] = counts.get(span["name"], 0) + 1
    [report_line] = [line for line in result.stdout.splitlines() if line.startswith('{"langgraph_app"')]
    requests = json.loads(report_line)["langgraph_app"]["chat_requests"]
    # One invoke, one ainvoke: each a model call, a tool, a model call.
    assert counts == {AGENT: 2, CHAT: requests, "execute_tool lookup_order": 2}
    assert requests == 4
    agents = {s["context"]["span_id"]: s for s in spans if s["name"] == AGENT}
    assert all(s["parent_id"] is None for s in agents.values())
    assert all(s["parent_id"] in agents for s in spans if s["name"] != AGENT)
