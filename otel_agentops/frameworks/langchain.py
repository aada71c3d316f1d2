"""Entry point `agentops_langchain`: LangChain and LangGraph runs become agent and tool spans, zero-code.

Patched:

* `BaseCallbackManager.__init__`: every callback manager gets our handler (`langchain_runs.RunSpans`) as
  an inheritable handler, so every run of every chain, graph and tool reports to it, whatever callbacks
  the app passes;
* `_set_config_context` of langchain-core and of LangGraph: LangChain calls it inside the context copy
  it makes for a run's body; there it also makes current the span that body belongs under
  (`RunSpans.scope_context`).

See `langchain_runs` for which runs become which spans, and why no context is attached in a callback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any

from opentelemetry import context as otel_context

from otel_agentops.frameworks.base import FrameworkInstrumentor, Wrapper, resolve
from otel_agentops.genai.failsafe import report_internal_error

_INSTRUMENTS = ("langchain-core >= 0.3, < 2",)
_CONFIG_CONTEXT = "_set_config_context"
# Where the function that sets a run body's context is defined; LangGraph has its own since 1.0.
_CONFIG_CONTEXT_MODULES = ("langchain_core.runnables.config", "langgraph._internal._runnable")
_IMPORTERS = ("langchain", "langgraph")


def _add_handler(handler: Any) -> Wrapper:
    def init(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> None:
        wrapped(*args, **kwargs)
        try:
            # Managers copy their inheritable handlers into the managers of child runs: add ours once.
            if handler not in instance.inheritable_handlers:
                # New lists: the manager may hold a list the app passed in, which must not change.
                instance.inheritable_handlers = [*instance.inheritable_handlers, handler]
                if handler not in instance.handlers:
                    instance.handlers = [*instance.handlers, handler]
        except Exception as exc:
            report_internal_error("adding the LangChain callback handler", exc)

    return init


def _enter_scope(handler: Any) -> Wrapper:
    def set_config_context(wrapped: Callable[..., Any], instance: Any, args: Any, kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        try:
            config = args[0] if args else kwargs.get("config")
            callbacks = config.get("callbacks") if isinstance(config, Mapping) else None
            # A child config's callback manager names the run whose body is about to execute.
            scope = handler.scope_context(getattr(callbacks, "parent_run_id", None))
            if scope is not None:
                # This runs inside the context copy LangChain made for that body (through Context.run):
                # the copy is dropped when the body ends, so the token is deliberately never detached.
                otel_context.attach(scope)
        except Exception as exc:
            report_internal_error("entering a LangChain run's span", exc)
        return result

    return set_config_context


class LangChainInstrumentor(FrameworkInstrumentor):
    library = "langchain_core"
    _handler: Any = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return _INSTRUMENTS

    def _patch(self) -> None:
        from otel_agentops.frameworks.langchain_runs import RunSpans

        handler = self._handler = RunSpans(self.telemetry)
        if not self._wrap(
            "langchain_core.callbacks.base", "BaseCallbackManager.__init__", _add_handler(handler)
        ):
            return
        hook = _enter_scope(handler)
        for module in _CONFIG_CONTEXT_MODULES:
            target = resolve(module, _CONFIG_CONTEXT)
            if target is None:
                continue
            owner, attribute, original = target
            self._wrap_attribute(owner, attribute, hook)
            self._wrap_aliases(original, hook)

    def _wrap_aliases(self, original: Any, hook: Wrapper) -> None:
        # Some langchain-core 0.3 releases import the function by name into the modules that use it;
        # those already imported hold the original (later imports get the wrapper).
        for name, module in list(sys.modules.items()):
            if (
                name.startswith(_IMPORTERS)
                and getattr(module, "__dict__", {}).get(_CONFIG_CONTEXT) is original
            ):
                self._wrap_attribute(module, _CONFIG_CONTEXT, hook)

    def _unpatch_now(self, **kwargs: Any) -> None:
        super()._unpatch_now(**kwargs)
        if self._handler is not None:
            # Managers created meanwhile keep the handler: let it finish the runs under way, start none.
            self._handler.active = False
            self._handler = None
