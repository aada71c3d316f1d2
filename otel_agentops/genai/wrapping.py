"""The wrapt wrapper closures that put a `GenAICall` around a patched SDK method.

A provider describes one patch point with an `Operation`: how to start the call from the request
(`begin`) and what to do with the SDK's result (`finish`: extract, or hand back a stream proxy).
Everything else, suppression, context, error capture and fail-open, is the same for all providers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY

from otel_agentops.genai.call import IN_GENAI_CALL, GenAICall
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.genai.telemetry import Telemetry
from otel_agentops.policies.chain import Request

if TYPE_CHECKING:
    from otel_agentops.policies.chain import PolicyChain

T = TypeVar("T")


class Pending:
    """The request of an SDK helper that returned before sending it, and the policy chain it goes through
    when the helper sends. The helper's proxy calls `send_sync` / `send_async` then, with an opener that
    sends a helper (e.g. enters the manager): each attempt is a fresh helper built by the SDK method with
    the attempt's model, endpoint and SDK retries, so retry, breaker, rate limit and fallback act on the
    real request, and only until the opener has returned (what it returns is never retried)."""

    __slots__ = ("_chain", "_request")

    def __init__(self, chain: PolicyChain, request: Request) -> None:
        self._chain = chain
        self._request = request

    def send_sync(self, call: GenAICall, opener: Callable[[Any], T]) -> T:
        request = self._request
        request.opener = opener
        return self._chain.run_sync(call, request)  # type: ignore[no-any-return]

    async def send_async(self, call: GenAICall, opener: Callable[[Any], Awaitable[T]]) -> T:
        request = self._request
        request.opener = opener
        return await self._chain.run_async(call, request)  # type: ignore[no-any-return]


Begin = Callable[[Telemetry, Any, tuple[Any, ...], dict[str, Any]], GenAICall]
Finish = Callable[[GenAICall, Any], Any]
FinishPending = Callable[[GenAICall, Any, Pending], Any]
Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class Operation:
    """One patch point: `begin` builds the call from (telemetry, instance, args, kwargs); `finish` takes
    the call and the SDK's result and returns what the app receives (the result itself or a proxy).

    `no_sdk_retries`, for SDKs whose retries are a per-request argument (cohere's `request_options`,
    LiteLLM's `num_retries`), gives the arguments with the SDK's own retries off; it is used while our
    retry policy owns the budget. (Stainless clients and botocore are handled without it.)

    `finish_pending` marks a method that returns a helper which sends later (Anthropic's
    `messages.stream()` manager sends on enter). Around the method itself the policies would only see
    the helper being built, so while a policy is configured the method is called directly and
    `finish_pending` replaces `finish`, with a `Pending` through which the helper's proxy sends. With no
    policy configured `finish` is used, exactly as for any other method."""

    begin: Begin
    finish: Finish
    no_sdk_retries: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    finish_pending: FinishPending | None = None


def _start(
    telemetry: Telemetry, operation: Operation, instance: Any, args: Any, kwargs: Any
) -> GenAICall | None:
    current = otel_context.get_current()
    if current.get(_SUPPRESS_INSTRUMENTATION_KEY) or current.get(IN_GENAI_CALL) is not None:
        return None
    try:
        return operation.begin(telemetry, instance, args, kwargs)
    except Exception as exc:
        report_internal_error("request extraction", exc)
        return None


def _finish(operation: Operation, call: GenAICall, result: Any, pending: Pending | None = None) -> Any:
    try:
        if pending is None:
            return operation.finish(call, result)
        assert operation.finish_pending is not None  # only operations that have one make a `Pending`
        return operation.finish_pending(call, result, pending)
    except Exception as exc:
        report_internal_error("response extraction", exc)
        call.end()
        return result


def sync_wrapper(telemetry: Telemetry, operation: Operation) -> Wrapper:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _start(telemetry, operation, instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        token = otel_context.attach(call.context)
        chain = telemetry.policies
        pending = None
        try:
            if chain is None:
                result = wrapped(*args, **kwargs)
            elif operation.finish_pending is not None:
                result = wrapped(*args, **kwargs)  # builds the helper; its proxy sends later
                pending = Pending(chain, Request(wrapped, instance, args, kwargs, operation, telemetry))
            else:
                result = chain.run_sync(call, Request(wrapped, instance, args, kwargs, operation, telemetry))
        except BaseException as exc:
            otel_context.detach(token)
            call.end(exc)
            raise
        otel_context.detach(token)
        return _finish(operation, call, result, pending)

    return wrapper


def async_wrapper(telemetry: Telemetry, operation: Operation) -> Wrapper:
    async def wrapper(
        wrapped: Callable[..., Awaitable[Any]], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _start(telemetry, operation, instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = otel_context.attach(call.context)
        chain = telemetry.policies
        pending = None
        try:
            if chain is None:
                result = await wrapped(*args, **kwargs)
            elif operation.finish_pending is not None:
                result = await wrapped(*args, **kwargs)  # builds the helper; its proxy sends later
                pending = Pending(chain, Request(wrapped, instance, args, kwargs, operation, telemetry))
            else:
                result = await chain.run_async(
                    call, Request(wrapped, instance, args, kwargs, operation, telemetry)
                )
        except BaseException as exc:
            otel_context.detach(token)
            call.end(exc)
            raise
        otel_context.detach(token)
        return _finish(operation, call, result, pending)

    return wrapper
