"""Entry point `agentops_threads`: LLM calls made in a thread pool stay children of the submitter's span.

Python threads start with an empty context, so without this every call fanned out through
`ThreadPoolExecutor` would begin a new trace. Only the OpenTelemetry context is carried over (attached
around the task, detached after it), never the app's other context variables.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable, Collection
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap


def _run_in(ctx: otel_context.Context, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        token = otel_context.attach(ctx)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return run


def _submit(wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if not args:  # submit(fn=...) is not a valid call; let the executor raise its own error
        return wrapped(*args, **kwargs)
    fn, *rest = args
    return wrapped(_run_in(otel_context.get_current(), fn), *rest, **kwargs)


class ThreadContextInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    def instrumentation_dependencies(self) -> Collection[str]:
        return ()

    def _instrument(self, **kwargs: Any) -> None:
        wrapt.wrap_function_wrapper(concurrent.futures.ThreadPoolExecutor, "submit", _submit)

    def _uninstrument(self, **kwargs: Any) -> None:
        unwrap(concurrent.futures.ThreadPoolExecutor, "submit")
