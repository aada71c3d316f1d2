"""A finished span copied with some fields changed, for the export path (sampling reason, redaction).

The SDK's own span object is never modified, so every other processor still sees it as it was.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

from otel_agentops.sdk.deferred_content import PENDING, pending_content


class SpanCopy(ReadableSpan):
    """`original` with `name`, `attributes`, `events`, `links`, `resource` or `status` replaced."""

    def __init__(self, original: ReadableSpan, **changes: Any) -> None:
        super().__init__(
            name=changes.get("name", original.name),
            context=original.context,
            parent=original.parent,
            resource=changes.get("resource", original.resource),
            attributes=changes.get("attributes", original.attributes),
            events=changes.get("events", original.events),
            links=changes.get("links", original.links),
            kind=original.kind,
            status=changes.get("status", original.status),
            start_time=original.start_time,
            end_time=original.end_time,
            instrumentation_scope=original.instrumentation_scope,
        )
        self._original = original
        # Content still to be redacted on export (``deferred_content``) goes where the span goes.
        pending = pending_content(original)
        if pending is not None:
            setattr(self, PENDING, pending)

    # The copy holds plain sequences; the limits the SDK applied were counted on the original.
    @property
    def dropped_attributes(self) -> int:
        return self._original.dropped_attributes

    @property
    def dropped_events(self) -> int:
        return self._original.dropped_events

    @property
    def dropped_links(self) -> int:
        return self._original.dropped_links
