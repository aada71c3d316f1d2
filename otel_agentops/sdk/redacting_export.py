"""The redaction safety net: every span and log record is redacted again on its way out of the process.

It also writes the content of our own calls where that waited for export (``deferred_content``).

Our own content attributes are redacted when they are written; this net also catches what other
instrumentations record (an HTTP span's URL with ``?api_key=``, an ``Authorization`` header attribute, an
exception message with an e-mail address) and anything an app sets by hand. It runs in the exporter's
thread, never on the app's, and rewrites a span only when something in it needs redacting (the redactor
returns the very same values otherwise). ``OTEL_AGENTOPS_REDACT_ALL_SPANS=false`` limits it to the spans and
log records of otel-agentops itself.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

from otel_agentops.config import parse_bool
from otel_agentops.genai.failsafe import report_internal_error
from otel_agentops.redaction import Redactor, get_redactor
from otel_agentops.redaction.memo import MIN_CHARS
from otel_agentops.sdk.deferred_content import pending_content
from otel_agentops.sdk.span_copy import SpanCopy

REDACT_ALL_SPANS = "OTEL_AGENTOPS_REDACT_ALL_SPANS"
OUR_SCOPE = "otel_agentops"


def redact_all_spans(environ: Mapping[str, str] | None = None) -> bool:
    return parse_bool(os.environ if environ is None else environ, REDACT_ALL_SPANS, True)


def _ours(scope: Any) -> bool:
    return getattr(scope, "name", None) == OUR_SCOPE


def redact_span(span: ReadableSpan, redactor: Redactor, *, resource: bool = True) -> ReadableSpan:
    """``span`` redacted (the same object when nothing needed it); ``resource``: its resource too, which
    belongs to the whole process rather than to our spans, so the net limited to our spans leaves it."""
    changes: dict[str, Any] = {}
    if span.attributes:
        attributes = dict(span.attributes)
        # Content attributes we wrote are redacted already: scanning their kilobytes again would find
        # nothing new. Identity tells them apart; their keys still pass the key rules.
        wrote, secret_key = redactor.wrote, redactor.is_secret_key
        ours = {
            k: v
            for k, v in attributes.items()
            if type(v) is str and len(v) >= MIN_CHARS and wrote(v) and not secret_key(k)
        }
        for key in ours:
            del attributes[key]
        redacted = redactor.redact_value(attributes)
        if redacted is not attributes and redacted != attributes:
            changes["attributes"] = {**redacted, **ours}
    name = redactor.redact_text(span.name)
    if name != span.name:
        changes["name"] = name
    description = span.status.description
    if description:
        clean = redactor.redact_text(description)
        if clean != description:
            changes["status"] = Status(span.status.status_code, clean)
    events = [_redact_event(event, redactor) for event in span.events]
    if any(new is not old for new, old in zip(events, span.events, strict=True)):
        changes["events"] = events
    links = [_redact_link(link, redactor) for link in span.links]
    if any(new is not old for new, old in zip(links, span.links, strict=True)):
        changes["links"] = links
    if resource:
        redacted_resource = _redacted_resource(span.resource, redactor)
        if redacted_resource is not span.resource:
            changes["resource"] = redacted_resource
    content = _content_on_export(span)
    if content:
        changes["attributes"] = {**changes.get("attributes", span.attributes or {}), **content}
    return SpanCopy(span, **changes) if changes else span


def _content_on_export(span: ReadableSpan) -> dict[str, str] | None:
    """The content attributes of a call whose content waited for export (``deferred_content``)."""
    pending = pending_content(span)
    if pending is None:
        return None
    try:
        return pending.attributes()
    except Exception as exc:
        # The span still goes out, without its content: nothing unredacted can leave this way.
        report_internal_error("redacting content on export", exc)
        return None


def _redact_event(event: Event, redactor: Redactor) -> Event:
    attributes = dict(event.attributes or {})
    clean = redactor.redact_value(attributes)
    name = redactor.redact_text(event.name)
    return event if clean == attributes and name == event.name else Event(name, clean, event.timestamp)


def _redact_link(link: Link, redactor: Redactor) -> Link:
    attributes = dict(link.attributes or {})
    clean = redactor.redact_value(attributes)
    return link if clean == attributes else Link(link.context, clean)


# The resource is one object for every span of a provider: redacted once per redactor. Each entry holds
# its resource, so the id it is filed under cannot pass to another object while it is here.
_resources: dict[int, tuple[Resource, Redactor, Resource]] = {}
_MAX_RESOURCES = 16


def _redacted_resource(resource: Resource | None, redactor: Redactor) -> Resource | None:
    """``resource`` with its attributes redacted (``process.command_args`` may hold an ``--api-key``)."""
    if resource is None:
        return None
    cached = _resources.get(id(resource))
    if cached is not None and cached[0] is resource and cached[1] is redactor:
        return cached[2]
    attributes = dict(resource.attributes)
    clean = redactor.redact_value(attributes)
    redacted = resource if clean == attributes else Resource(clean, resource.schema_url)
    if len(_resources) >= _MAX_RESOURCES:
        _resources.clear()
    _resources[id(resource)] = (resource, redactor, redacted)
    return redacted


class RedactingSpanExporter(SpanExporter):
    """Wraps an exporter. In code: ``BatchSpanProcessor(RedactingSpanExporter(OTLPSpanExporter()))``."""

    def __init__(self, exporter: SpanExporter, *, all_spans: bool | None = None) -> None:
        self._exporter = exporter
        self.wrapped_exporter = exporter  # fork handling reaches the OTLP exporter's connections through it
        self._all_spans = redact_all_spans() if all_spans is None else all_spans

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            redactor = get_redactor()
            every = self._all_spans
            redacted = [
                redact_span(span, redactor, resource=every)
                if every or _ours(span.instrumentation_scope)
                else span
                for span in spans
            ]
        except Exception as exc:
            # Unredacted data must not leave because redaction broke: drop this batch instead.
            report_internal_error("redacting spans for export", exc)
            return SpanExportResult.FAILURE
        return self._exporter.export(redacted)

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)


class RedactingLogRecordExporter(LogRecordExporter):
    """The same safety net for log records (body, attributes and resource)."""

    def __init__(self, exporter: LogRecordExporter, *, all_records: bool | None = None) -> None:
        self._exporter = exporter
        self._all = redact_all_spans() if all_records is None else all_records

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        try:
            redactor = get_redactor()
            redacted = [
                self._redact(record, redactor, resource=self._all)
                if self._all or _ours(record.instrumentation_scope)
                else record
                for record in batch
            ]
        except Exception as exc:
            report_internal_error("redacting log records for export", exc)
            return LogRecordExportResult.FAILURE
        return self._exporter.export(redacted)

    @staticmethod
    def _redact(record: ReadableLogRecord, redactor: Redactor, *, resource: bool) -> ReadableLogRecord:
        log_record = record.log_record
        attributes = dict(log_record.attributes or {})
        clean_attributes = redactor.redact_value(attributes)
        body = log_record.body
        clean_body = redactor.redact_value(body) if body is not None else body
        if clean_attributes != attributes:
            log_record.attributes = clean_attributes
        if clean_body != body:
            log_record.body = clean_body
        if not resource:
            return record
        clean_resource = _redacted_resource(record.resource, redactor)
        return (
            record
            if clean_resource is record.resource
            else dataclasses.replace(record, resource=clean_resource)
        )

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)
