"""Agent, tool and workflow spans for app authors who want more than zero-code.

    from otel_agentops import agent, tool, workflow, conversation

    @agent("support-agent")
    def run(task): ...

    @tool()                              # name defaults to the function's name
    async def lookup_order(order_id: str, tool_call_id: str | None = None): ...

    with conversation("ticket-4711"), workflow("triage"):
        run("where is my order?")

    with tool("search_docs", call_id=call.id) as span:
        span.record_result(search(query))

Each works as a decorator (with or without parentheses) on sync and async functions and on (async)
generators, whose span covers the whole iteration, and as a context manager. No OpenTelemetry context is
left attached while a decorated generator is suspended, so the consumer's code between two items is not
mistaken for the generator's.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, overload

from opentelemetry import context as otel_context

from otel_agentops.agents.spans import AGENT, TOOL, WORKFLOW, OperationSpan, current
from otel_agentops.genai.conversation import CONVERSATION_KEY

F = TypeVar("F", bound=Callable[..., Any])

# A decorated tool function that accepts this keyword gets its value as the span's gen_ai.tool.call.id.
CALL_ID_ARGUMENT = "tool_call_id"


class _Operation:
    """What `agent(...)`, `tool(...)` and `workflow(...)` return: a decorator and a context manager."""

    def __init__(self, operation: str, name: str | None, agent_id: str | None, call_id: str | None) -> None:
        self._operation = operation
        self._name = name
        self._agent_id = agent_id
        self._call_id = call_id
        self._active: OperationSpan | None = None

    def __enter__(self) -> OperationSpan:
        if self._name is None:
            raise TypeError(f"{self._operation}() needs a name when used as a context manager")
        self._active = current().start(
            self._operation, self._name, agent_id=self._agent_id, tool_call_id=self._call_id
        )
        return self._active.__enter__()

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        active, self._active = self._active, None
        if active is not None:
            active.__exit__(exc_type, exc, tb)

    def __call__(self, function: F) -> F:
        return wrap(self._operation, self._name or function.__name__, function, agent_id=self._agent_id)


def wrap(operation: str, name: str, function: F, *, agent_id: str | None = None) -> F:
    """`function` (sync, async, generator or async generator) running each call in its own span."""
    accepts_call_id = operation == TOOL and _accepts(function, CALL_ID_ARGUMENT)

    def start(args: tuple[Any, ...], kwargs: dict[str, Any]) -> OperationSpan:
        call_id = kwargs.get(CALL_ID_ARGUMENT) if accepts_call_id else None
        span = current().start(operation, name, agent_id=agent_id, tool_call_id=call_id)
        if operation == TOOL:
            span.record_arguments(_arguments(function, args, kwargs))
        return span

    if inspect.isasyncgenfunction(function):

        @functools.wraps(function)
        async def async_generator(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            span = start(args, kwargs)
            inner = function(*args, **kwargs)
            error: BaseException | None = None
            try:
                while True:
                    token = otel_context.attach(span.context)
                    try:
                        item = await inner.__anext__()
                    except StopAsyncIteration:
                        return
                    finally:
                        otel_context.detach(token)
                    yield item
            except GeneratorExit:  # closed early by the consumer: a normal end, not an error
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                await inner.aclose()
                span.end(error)

        return async_generator  # type: ignore[return-value]

    if inspect.isgeneratorfunction(function):

        @functools.wraps(function)
        def generator(*args: Any, **kwargs: Any) -> Iterator[Any]:
            span = start(args, kwargs)
            inner = function(*args, **kwargs)
            error: BaseException | None = None
            sent: Any = None
            try:
                while True:
                    token = otel_context.attach(span.context)
                    try:
                        item = inner.send(sent)
                    except StopIteration as stop:
                        span.record_result(stop.value)
                        return stop.value
                    finally:
                        otel_context.detach(token)
                    sent = yield item
            except GeneratorExit:  # closed early by the consumer: a normal end, not an error
                raise
            except BaseException as exc:
                error = exc
                raise
            finally:
                inner.close()
                span.end(error)

        return generator  # type: ignore[return-value]

    if inspect.iscoroutinefunction(function):

        @functools.wraps(function)
        async def coroutine(*args: Any, **kwargs: Any) -> Any:
            with start(args, kwargs) as span:
                result = await function(*args, **kwargs)
                span.record_result(result)
                return result

        return coroutine  # type: ignore[return-value]

    @functools.wraps(function)
    def plain(*args: Any, **kwargs: Any) -> Any:
        with start(args, kwargs) as span:
            result = function(*args, **kwargs)
            span.record_result(result)
            return result

    return plain  # type: ignore[return-value]


def _accepts(function: Callable[..., Any], parameter: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
    return parameter in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _arguments(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = inspect.signature(function).bind_partial(*args, **kwargs)
    except (TypeError, ValueError):
        return {"args": list(args), "kwargs": kwargs}
    return {key: value for key, value in bound.arguments.items() if key not in ("self", "cls")}


@overload
def agent(name: F, *, id: str | None = None) -> F: ...
@overload
def agent(name: str | None = None, *, id: str | None = None) -> _Operation: ...
def agent(name: Any = None, *, id: str | None = None) -> Any:
    """An `invoke_agent {name}` span; `id` becomes `gen_ai.agent.id`."""
    if callable(name):
        return wrap(AGENT, name.__name__, name, agent_id=id)
    return _Operation(AGENT, name, id, None)


@overload
def tool(name: F, *, call_id: str | None = None) -> F: ...
@overload
def tool(name: str | None = None, *, call_id: str | None = None) -> _Operation: ...
def tool(name: Any = None, *, call_id: str | None = None) -> Any:
    """An `execute_tool {name}` span; `call_id` (or a `tool_call_id` keyword argument of the decorated
    function, or else the id of the model's latest matching tool call in this trace) becomes
    `gen_ai.tool.call.id`."""
    if callable(name):
        return wrap(TOOL, name.__name__, name)
    return _Operation(TOOL, name, None, call_id)


@overload
def workflow(name: F) -> F: ...
@overload
def workflow(name: str | None = None) -> _Operation: ...
def workflow(name: Any = None) -> Any:
    """An `invoke_workflow {name}` span around a multi-agent or multi-step run."""
    if callable(name):
        return wrap(WORKFLOW, name.__name__, name)
    return _Operation(WORKFLOW, name, None, None)


@contextmanager
def conversation(conversation_id: str) -> Iterator[None]:
    """Every span started inside (LLM calls, agents, tools) carries `gen_ai.conversation.id`."""
    token = otel_context.attach(otel_context.set_value(CONVERSATION_KEY, str(conversation_id)))
    try:
        yield
    finally:
        otel_context.detach(token)
