"""Fault injection: what can go wrong with a request, and the ways a test or demo asks for it.

Three ways to inject a fault, all producing a `Fault`:

1. Python: ``fp.add_fault(Fault(status=429, retry_after="1"), times=2, model="gpt-4o")``.
2. JSON to the control endpoint: ``POST /_fake/faults`` with
   ``{"fault": {"status": 429, "retry_after": "1"}, "times": 2, "model": "gpt-4o", "path": "/v1/embeddings"}``
   (``fault`` takes the `Fault` field names; ``times`` null means forever).
3. A request header, for one request only: ``x-fake-fault: <item>;<item>;...`` where each item is
   ``key=value`` with a `Fault` field name as key (``-`` and ``_`` are interchangeable), or a bare flag:

   ==========================  ==================================================
   ``429`` (a bare number)     ``status=429``
   ``drop``                    ``drop_connection=true``
   ``status=503``              answer with this HTTP status
   ``retry_after=2``           ``retry-after`` header (seconds or an HTTP-date)
   ``retry_after_ms=1500``     ``retry-after-ms`` header
   ``should_retry=false``      ``x-should-retry`` header
   ``delay=0.2``               wait this many seconds before answering
   ``cut_stream_after=3``      streaming: send 3 events, then abort the body
   ``chunk_delay=0.05``        streaming: wait between events
   ==========================  ==================================================

   e.g. ``x-fake-fault: status=429;retry_after=1``. ``body`` is not available in the header (its JSON would
   collide with the separators); use the other two forms for it.

A header fault takes precedence over queued faults and does not consume them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

FAULT_HEADER = "x-fake-fault"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_FLAGS = {"drop": ("drop_connection", "true")}


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour; fields combine (e.g. a delay followed by a 503)."""

    status: int | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    should_retry: str | None = None
    delay: float = 0.0
    drop_connection: bool = False
    # Only streaming responses are cut; a non-streaming request answers normally and still uses up the fault.
    cut_stream_after: int | None = None
    chunk_delay: float = 0.0
    # Replaces the provider-shaped error body of a `status` fault.
    body: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"fault status must be an HTTP error status (400-599), got {self.status}")
        if self.delay < 0 or self.chunk_delay < 0:
            raise ValueError("fault delays must not be negative")
        if self.cut_stream_after is not None and self.cut_stream_after < 0:
            raise ValueError("cut_stream_after must not be negative")

    @property
    def error_headers(self) -> dict[str, str]:
        """The retry-hint headers sent with the error status."""
        named = {
            "retry-after": self.retry_after,
            "retry-after-ms": self.retry_after_ms,
            "x-should-retry": self.should_retry,
        }
        return {name: value for name, value in named.items() if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        """Build a fault from loosely typed values (JSON or header strings), rejecting unknown keys."""
        types = {f.name: f.type for f in fields(cls)}
        unknown = set(data) - set(types)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**{name: _coerce(name, types[name], value) for name, value in data.items()})

    @classmethod
    def from_header(cls, value: str) -> Fault:
        """Parse the compact ``x-fake-fault`` syntax described in the module docstring."""
        data: dict[str, Any] = {}
        for raw_item in value.split(";"):
            item = raw_item.strip()
            if not item:
                continue
            key, sep, item_value = item.partition("=")
            key = key.strip().replace("-", "_")
            if not sep:
                if key.isdigit():
                    key, item_value = "status", key
                else:
                    key, item_value = _FLAGS.get(key, (key, "true"))
            if key == "body":
                raise ValueError("the fault header cannot carry a body; use add_fault or POST /_fake/faults")
            data[key] = item_value.strip()
        return cls.from_dict(data)


def _coerce(name: str, annotation: str, value: Any) -> Any:
    # Annotations are strings here (postponed evaluation), which is all the dispatch needs.
    if value is None or name == "body":
        return value
    try:
        if annotation.startswith("int"):
            return int(value)
        if annotation.startswith("float"):
            return float(value)
        if annotation.startswith("bool"):
            return _to_bool(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"invalid value for fault field {name!r}: {value!r}") from exc
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"not a boolean: {value!r}")
