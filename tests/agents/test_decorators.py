"""agent / tool / workflow decorators and context managers, conversation ids and tool-call joins."""

from __future__ import annotations

import asyncio
import inspect
import json
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest

import otel_agentops
from otel_agentops import agent, conversation, tool, workflow
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.genai import semconv

CAPTURE = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"


def by_name(telemetry):
    return {span.name: span for span in telemetry.spans()}


def lookup(order_id):
    return {"order_id": order_id, "status": "shipped"}


async def alookup(order_id):
    await asyncio.sleep(0)
    return {"order_id": order_id, "status": "shipped"}


def lines(count):
    for index in range(count):
        yield f"line {index}"
    return "done"


async def alines(count):
    for index in range(count):
        await asyncio.sleep(0)
        yield f"line {index}"


async def run_any(function, *args):
    result = function(*args)
    if inspect.iscoroutine(result):
        return await result
    if hasattr(result, "__anext__"):
        return [item async for item in result]
    if hasattr(result, "__next__"):
        return list(result)
    return result


@pytest.mark.parametrize(
    ("decorator", "operation", "name_key"),
    [
        (agent, "invoke_agent", semconv.AGENT_NAME),
        (tool, "execute_tool", semconv.TOOL_NAME),
        (workflow, "invoke_workflow", semconv.WORKFLOW_NAME),
    ],
)
@pytest.mark.parametrize(
    ("function", "expected"),
    [
        (lookup, {"order_id": "A1", "status": "shipped"}),
        (alookup, {"order_id": "A1", "status": "shipped"}),
        (lines, ["line 0", "line 1"]),
        (alines, ["line 0", "line 1"]),
    ],
)
async def test_matrix(decorator, operation, name_key, function, expected, instrumented):
    decorated = decorator("thing")(function)
    assert decorated.__name__ == function.__name__
    argument = "A1" if function in (lookup, alookup) else 2
    assert await run_any(decorated, argument) == expected

    [span] = instrumented.spans()
    assert span.name == f"{operation} thing"
    assert span.kind.name == "INTERNAL"
    attributes = dict(span.attributes)
    assert attributes.pop(semconv.OPERATION_NAME) == operation
    assert attributes.pop(name_key) == "thing"
    if operation == "execute_tool":
        assert attributes.pop(semconv.TOOL_TYPE) == "function"
    assert attributes == {}  # no arguments or results without content capture
    [duration] = instrumented.metric_points(semconv.METRIC_AGENT_OPERATION_DURATION)
    assert dict(duration.attributes) == {semconv.OPERATION_NAME: operation, name_key: "thing"}
    tool_points = instrumented.metric_points(semconv.METRIC_TOOL_CALLS)
    if operation == "execute_tool":
        assert [(dict(p.attributes), p.value) for p in tool_points] == [
            ({semconv.TOOL_NAME: "thing", semconv.TOOL_CALL_ORIGIN: "executed"}, 1)
        ]
    else:
        assert tool_points == []


def test_bare_decorator_uses_the_function_name(instrumented):
    @tool
    def search_docs(query):
        return [query]

    @agent(id="agent-7")
    def planner():
        return search_docs("returns")

    assert planner() == ["returns"]
    spans = by_name(instrumented)
    assert set(spans) == {"invoke_agent planner", "execute_tool search_docs"}
    assert spans["invoke_agent planner"].attributes[semconv.AGENT_ID] == "agent-7"
    assert spans["execute_tool search_docs"].parent.span_id == spans["invoke_agent planner"].context.span_id


@pytest.mark.parametrize("kind", ["sync", "async", "generator"])
async def test_exceptions_are_recorded_and_reraised(kind, instrumented):
    if kind == "sync":

        @tool("broken")
        def broken():
            raise ValueError("bad input")

        call = broken
    elif kind == "async":

        @tool("broken")
        async def broken():
            raise ValueError("bad input")

        call = broken
    else:

        @tool("broken")
        def broken():
            yield 1
            raise ValueError("bad input")

        call = broken
    with pytest.raises(ValueError, match="bad input"):
        await run_any(call)
    [span] = instrumented.spans()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes[semconv.ERROR_TYPE] == "ValueError"
    [duration] = instrumented.metric_points(semconv.METRIC_AGENT_OPERATION_DURATION)
    assert duration.attributes[semconv.ERROR_TYPE] == "ValueError"


def test_generator_closed_early_ends_its_span_once(instrumented):
    generator = tool("stream")(lines)(10)
    assert next(generator) == "line 0"
    assert instrumented.spans() == []
    generator.close()
    [span] = instrumented.spans()
    assert span.status.status_code.name == "UNSET"


def test_consumer_code_between_items_is_not_a_child_of_the_generator(instrumented):
    tracer = instrumented.tracer_provider.get_tracer("app")
    for _item in tool("stream")(lines)(2):
        with tracer.start_as_current_span("consumer"):
            pass
    spans = instrumented.spans()
    consumers = [s for s in spans if s.name == "consumer"]
    [generator_span] = [s for s in spans if s.name == "execute_tool stream"]
    assert len(consumers) == 2
    assert all(s.parent is None or s.parent.span_id != generator_span.context.span_id for s in consumers)


def test_context_managers_and_conversation(fake_provider, instrumented):
    llm = openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=0)
    with conversation("ticket-4711"), workflow("triage"), agent("support", id="a1") as span:
        llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        with tool("lookup_order", call_id="call_123") as tool_span:
            tool_span.record_result({"status": "shipped"})
        assert span.name == "support"
    spans = by_name(instrumented)
    assert set(spans) == {
        "invoke_workflow triage",
        "invoke_agent support",
        "chat gpt-4o-mini",
        "execute_tool lookup_order",
    }
    assert {s.attributes[semconv.CONVERSATION_ID] for s in spans.values()} == {"ticket-4711"}
    assert spans["execute_tool lookup_order"].attributes[semconv.TOOL_CALL_ID] == "call_123"
    assert spans["chat gpt-4o-mini"].parent.span_id == spans["invoke_agent support"].context.span_id
    assert spans["invoke_agent support"].parent.span_id == spans["invoke_workflow triage"].context.span_id
    outside = llm.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
    assert outside.id
    assert semconv.CONVERSATION_ID not in instrumented.spans()[-1].attributes


def test_context_manager_needs_a_name():
    with pytest.raises(TypeError, match="needs a name"), tool():
        pass


def test_tool_call_id_from_keyword_argument(instrumented):
    @tool
    def lookup_order(order_id, tool_call_id=None):
        return order_id

    lookup_order("A1", tool_call_id="call_abc")
    assert instrumented.span().attributes[semconv.TOOL_CALL_ID] == "call_abc"


async def test_tool_spans_join_the_models_call_ids(fake_provider, instrumented):
    fake_provider.script(
        Reply(
            tool_calls=(
                ToolCall("lookup_order", {"order_id": "A1"}, id="call_1"),
                ToolCall("lookup_order", {"order_id": "B2"}, id="call_2"),
            )
        )
    )
    llm = openai.OpenAI(api_key="sk-test", base_url=fake_provider.openai_base_url, max_retries=0)

    @tool
    def lookup_order(order_id):
        return order_id

    with agent("support"):
        response = llm.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
        for call in response.choices[0].message.tool_calls:
            lookup_order(**json.loads(call.function.arguments))
        lookup_order("C3")  # not asked for by the model: no id to claim

    tools = [s for s in instrumented.spans() if s.name == "execute_tool lookup_order"]
    assert [s.attributes.get(semconv.TOOL_CALL_ID) for s in tools] == ["call_1", "call_2", None]
    [chat] = [s for s in instrumented.spans() if s.name == "chat gpt-4o-mini"]
    assert chat.attributes[semconv.RESPONSE_TOOL_CALL_IDS] == ("call_1", "call_2")


async def test_propagation_across_threads_and_tasks(instrumented):
    @tool
    def in_thread(value):
        return value

    @tool
    async def in_task(value):
        return value

    with agent("fan-out") as parent, ThreadPoolExecutor(max_workers=3) as pool:
        assert [f.result() for f in [pool.submit(in_thread, n) for n in range(3)]] == [0, 1, 2]
        assert await asyncio.gather(*(in_task(n) for n in range(3))) == [0, 1, 2]
    children = [s for s in instrumented.spans() if s.name.startswith("execute_tool")]
    assert len(children) == 6
    assert {s.parent.span_id for s in children} == {parent.span.get_span_context().span_id}


def test_tool_content_only_with_capture(instrument):
    telemetry = instrument(**{CAPTURE: "span_only"})

    @tool
    def lookup_order(order_id, verbose=False):
        return {"order_id": order_id, "status": "shipped"}

    lookup_order("A1")
    attributes = telemetry.span().attributes
    assert json.loads(attributes[semconv.TOOL_CALL_ARGUMENTS]) == {"order_id": "A1"}
    assert json.loads(attributes[semconv.TOOL_CALL_RESULT]) == {"order_id": "A1", "status": "shipped"}


def test_decorators_work_before_and_after_instrumentation(instrument):
    @tool
    def early():
        return 1

    telemetry = instrument()
    early()
    assert [s.name for s in telemetry.spans()] == ["execute_tool early"]
    otel_agentops.uninstrument()
    early()  # still works, on the global provider now
    assert len(telemetry.spans()) == 1


async def test_async_generator_closed_early_is_not_an_error(instrumented):
    generator = tool("stream")(alines)(10)
    assert await generator.__anext__() == "line 0"
    await generator.aclose()
    [span] = instrumented.spans()
    assert span.status.status_code.name == "UNSET"
