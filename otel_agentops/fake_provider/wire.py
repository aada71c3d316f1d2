"""The contract between the generic server and a provider's wire-format module.

A wire module (``openai.py``, later ``anthropic.py``, ``gemini.py``, ...) exposes one `WireFormat`: its routes
and how its provider shapes an error body. A route handler receives an `Exchange` (the recorded request and a
way to take the scripted reply meant for it) and returns a `JsonReply` or a `StreamReply`; it raises
`WireError` for a request its provider would reject. The server owns everything else: HTTP framing, recording,
faults, delays, cut streams.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import unquote

from otel_agentops.fake_provider.recording import RecordedRequest
from otel_agentops.fake_provider.scenario import Reply

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class WireError(Exception):
    """A provider-level error; the route's wire format renders it in that provider's error shape."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Exchange:
    request: RecordedRequest
    # Routes that produce model output call this; others (embeddings, model lists) must not use up a script.
    take_script: Callable[[], Reply | None] = lambda: None

    def make_id(self, prefix: str) -> str:
        """A deterministic, readable id that still differs per request (e.g. ``chatcmpl-fake000007``)."""
        return f"{prefix}fake{self.request.sequence:06d}"


@dataclass(frozen=True)
class JsonReply:
    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamReply:
    """A streamed body; each element of `events` is sent as one HTTP chunk (the unit a fault cuts after)."""

    events: Iterable[bytes]
    content_type: str = "text/event-stream; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Exchange], "JsonReply | StreamReply"]
ErrorShape = Callable[[WireError], Any]


@dataclass(frozen=True)
class Route:
    """`path` may hold ``{name}`` placeholders (one path segment each); ``{model}`` names the model.

    `header`, when set, is a request header the route requires (e.g. ``anthropic-version``), so two wire
    formats can serve the same method and path; the router tries such routes before unconditional ones.
    """

    method: str
    path: str
    handler: Handler
    header: str | None = None

    def match(
        self, method: str, path: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, str] | None:
        if method != self.method:
            return None
        if self.header is not None and (headers is None or headers.get(self.header) is None):
            return None
        found = self._pattern.fullmatch(path)
        # Path parameters arrive percent-encoded (Bedrock model ids: `...-v1%3A0`).
        return {name: unquote(value) for name, value in found.groupdict().items()} if found else None

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        parts = _PLACEHOLDER.split(self.path)
        # split() alternates literal text and placeholder names.
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)" for i, part in enumerate(parts)
        )
        return re.compile(regex)


@dataclass(frozen=True)
class WireFormat:
    name: str
    routes: tuple[Route, ...]
    error_body: ErrorShape


def sse_event(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; `data` is JSON-encoded unless it is already a string (e.g. ``[DONE]``)."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()
