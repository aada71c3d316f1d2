"""LangChain runs as agent-level spans: the callback handler that `agentops_langchain` adds to every
callback manager, and the span each run's body executes under.

Which runs become spans:

* the top-level run of a LangGraph graph (`create_react_agent`, langchain's `create_agent`, any compiled
  `StateGraph`) -> `invoke_agent {graph name}`;
* any other top-level chain run (an LCEL chain such as `prompt | model | parser`) -> `invoke_workflow {name}`;
* every tool run, at any depth -> `execute_tool {tool name}`, `gen_ai.tool.call.id` the model's tool call id;
* chat model and LLM runs -> nothing: the model's client library is instrumented (`agentops_openai`, ...)
  and makes the one `chat {model}` span, with tokens and cost, for each request;
* nested chain runs (graph nodes, sequences, prompts, parsers) -> nothing; they run under the span above.

Context: LangChain executes every run's body in a copy of the context (`set_config_context`, which carries
the run's callback manager to the body). `scope_context` names the span that copy should have as
current, and the instrumentor makes it current there, so the LLM span of a model call in a graph node is a
child of the agent span and a tool's own work is a child of its tool span. Because that copy lives exactly as
long as the run's body, nothing is ever attached in a callback and detached in another: callbacks can
arrive in other threads or tasks, or not at all (an abandoned stream), without leaking a span into the
caller's context or failing to detach.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span

from otel_agentops.agents.spans import AGENT, TOOL, WORKFLOW, AgentTelemetry, OperationSpan
from otel_agentops.genai.failsafe import report_internal_error

# LangGraph marks its graph runs with this metadata (langgraph >= 1.0); the mark is inherited by
# every run below, which is why it only tells a graph apart at the top level.
_INTEGRATION_KEY = "ls_integration"
_LANGGRAPH = "langgraph"


def _control_flow_errors() -> tuple[type[BaseException], ...]:
    # Closing a stream early, or LangGraph's interrupts and Command(goto=parent) hand-offs, end a run
    # without anything having gone wrong.
    errors: list[type[BaseException]] = [GeneratorExit]
    try:
        from langgraph.errors import GraphBubbleUp

        errors.append(GraphBubbleUp)
    except ImportError:
        pass
    return tuple(errors)


class _Scope:
    """The span a run's body runs under, and the span that was current when that span started."""

    __slots__ = ("parent_span_id", "span")

    def __init__(self, span: Span, parent_span_id: int) -> None:
        self.span = span
        self.parent_span_id = parent_span_id

    def replaces(self, current: Span) -> bool:
        """Whether `current` should give way to this scope's span.

        Yes where the context lost the span (nothing current, another trace) or still has the span this
        one started under (the caller's context that LangGraph runs its nodes from). No where `current`
        is this span or a span the app started inside it, which is more precise than ours.
        """
        context = current.get_span_context()
        mine = self.span.get_span_context()
        return (
            not context.is_valid
            or context.trace_id != mine.trace_id
            or context.span_id == self.parent_span_id
        )


class RunSpans(BaseCallbackHandler):
    """One per instrumentation, shared by every callback manager (handlers are called from many threads)."""

    # Called in the run's own thread and task; not inline, LangChain would call it from an executor.
    run_inline = True

    def __init__(self, telemetry: AgentTelemetry) -> None:
        super().__init__()
        self._telemetry = telemetry
        self._lock = threading.Lock()
        self._scopes: dict[UUID, _Scope] = {}
        self._spans: dict[UUID, OperationSpan] = {}
        self._not_errors = _control_flow_errors()
        # Cleared by uninstrument: runs already started still end their spans, no new ones start.
        self.active = True

    # Model, retriever and custom-event callbacks are never needed: skipping them costs LangChain nothing.
    # (Not `ignore_agent`: LangChain files the tool callbacks under it.)
    @property
    def ignore_llm(self) -> bool:
        return True

    @property
    def ignore_chat_model(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True

    # ------------------------------------------------------------ the span a run's body runs under

    def scope_context(self, run_id: UUID | None) -> otel_context.Context | None:
        """The context for the body of run `run_id`, or None to keep the current one."""
        scope = self._scopes.get(run_id) if run_id is not None else None
        if scope is None or not scope.replaces(trace.get_current_span()):
            return None
        return trace.set_span_in_context(scope.span)

    # ------------------------------------------------------------ callbacks

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        try:
            if parent_run_id is not None:
                with self._lock:
                    scope = self._scopes.get(parent_run_id)
                    if scope is not None:
                        self._scopes[run_id] = scope
                return
            if not self.active:
                return
            is_graph = (metadata or {}).get(_INTEGRATION_KEY) == _LANGGRAPH
            self._start(run_id, None, AGENT if is_graph else WORKFLOW, _run_name(serialized, kwargs, "chain"))
        except Exception as exc:
            report_internal_error("LangChain chain start", exc)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        inputs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self.active:
            return
        try:
            span = self._start(
                run_id, parent_run_id, TOOL, _run_name(serialized, kwargs, "tool"), kwargs.get("tool_call_id")
            )
            span.record_arguments(inputs if inputs is not None else input_str)
        except Exception as exc:
            report_internal_error("LangChain tool start", exc)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        span = self._spans.get(run_id)
        if span is not None:
            # A ToolMessage (tools called with a tool call) or whatever the tool returned.
            span.record_result(getattr(output, "content", output))
        self._end(run_id, None)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    # ------------------------------------------------------------ spans

    def _start(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        operation: str,
        name: str,
        tool_call_id: str | None = None,
    ) -> OperationSpan:
        # Attached only around creating the span, in this frame: the span's parent is the run's scope
        # even where the context lost it (a worker thread the app started without propagating it).
        parent = self.scope_context(parent_run_id)
        token = otel_context.attach(parent) if parent is not None else None
        try:
            span = self._telemetry.start(operation, name, tool_call_id=tool_call_id)
            parent_span_id = trace.get_current_span().get_span_context().span_id
        finally:
            if token is not None:
                otel_context.detach(token)
        with self._lock:
            self._spans[run_id] = span
            self._scopes[run_id] = _Scope(span.span, parent_span_id)
        return span

    def _end(self, run_id: UUID, error: BaseException | None) -> None:
        with self._lock:
            self._scopes.pop(run_id, None)
            span = self._spans.pop(run_id, None)
        if span is not None:
            span.end(None if isinstance(error, self._not_errors) else error)


def _run_name(serialized: dict[str, Any] | None, kwargs: dict[str, Any], default: str) -> str:
    name = kwargs.get("name") or (serialized or {}).get("name")
    return str(name) if name else default
