"""The control API under ``/_fake/``, for driving a fake provider that runs in another process (demo, CLI).

=========================  ==========================================================================
``POST /_fake/faults``     ``{"fault": {Fault fields}, "times": 1, "model": null, "path": null}``
``POST /_fake/scripts``    ``{"reply": {Reply fields}, "times": 1, "model": null, "path": null}``
``GET /_fake/requests``    the recorded provider requests, oldest first, as a JSON array
``POST /_fake/reset``      forget requests, faults and scripts
``GET /_fake/health``      ``{"ok": true}``, to wait for readiness
=========================  ==========================================================================

``times`` null means forever. Control requests are never recorded and never subject to faults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from otel_agentops.fake_provider.faults import Fault
from otel_agentops.fake_provider.scenario import Reply
from otel_agentops.fake_provider.wire import JsonReply

if TYPE_CHECKING:
    from otel_agentops.fake_provider.server import FakeProvider

PREFIX = "/_fake/"

_OK = JsonReply({"ok": True})


def _filters(body: Mapping[str, Any]) -> dict[str, Any]:
    return {"times": body.get("times", 1), "model": body.get("model"), "path": body.get("path")}


def _add_fault(provider: FakeProvider, body: Mapping[str, Any]) -> JsonReply:
    provider.add_fault(Fault.from_dict(body.get("fault") or {}), **_filters(body))
    return _OK


def _add_script(provider: FakeProvider, body: Mapping[str, Any]) -> JsonReply:
    provider.script(Reply.from_dict(body.get("reply") or {}), **_filters(body))
    return _OK


def _requests(provider: FakeProvider, body: Mapping[str, Any]) -> JsonReply:
    return JsonReply([request.to_json() for request in provider.requests])


def _reset(provider: FakeProvider, body: Mapping[str, Any]) -> JsonReply:
    provider.reset()
    return _OK


def _health(provider: FakeProvider, body: Mapping[str, Any]) -> JsonReply:
    return _OK


_ENDPOINTS: Mapping[tuple[str, str], Callable[[FakeProvider, Mapping[str, Any]], JsonReply]] = {
    ("POST", PREFIX + "faults"): _add_fault,
    ("POST", PREFIX + "scripts"): _add_script,
    ("GET", PREFIX + "requests"): _requests,
    ("POST", PREFIX + "reset"): _reset,
    ("GET", PREFIX + "health"): _health,
}


def handle(provider: FakeProvider, method: str, path: str, body: Any) -> JsonReply:
    endpoint = _ENDPOINTS.get((method, path))
    if endpoint is None:
        return _error(404, f"unknown control endpoint {method} {path}")
    if body is not None and not isinstance(body, dict):
        return _error(400, "the control body must be a JSON object")
    try:
        return endpoint(provider, body or {})
    except (TypeError, ValueError) as exc:
        # Bad field names or values from the caller, reported back instead of crashing the handler.
        return _error(400, str(exc))


def _error(status: int, message: str) -> JsonReply:
    return JsonReply({"error": {"message": message, "type": "invalid_request_error"}}, status=status)
