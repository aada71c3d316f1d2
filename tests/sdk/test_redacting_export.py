"""The redaction safety net on the export path: other instrumentations' spans and log records too."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, Status, StatusCode
from support.instrumented import run_instrumented

from otel_agentops.sdk.redacting_export import RedactingLogRecordExporter, RedactingSpanExporter

KEY = "sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678"
BEARER = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


def pipeline(**options):
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exported, **options)))
    return provider, exported


def http_span(provider, scope="opentelemetry.instrumentation.httpx"):
    tracer = provider.get_tracer(scope)
    span = tracer.start_span(
        "POST",
        attributes={
            "url.full": f"https://api.example.com/v1/search?api_key={KEY}&q=shoes",
            "http.request.header.authorization": (f"Bearer {BEARER}",),
            "gen_ai.usage.input_tokens": 1234,
            "http.response.status_code": 200,
        },
    )
    span.add_event("exception", {"exception.message": "rejected for jane.doe@example.com"})
    span.set_status(Status(StatusCode.ERROR, f"bad key {KEY}"))
    span.end()


def test_other_instrumentations_spans_are_redacted():
    provider, exported = pipeline(all_spans=True)
    http_span(provider)
    [span] = exported.get_finished_spans()
    attributes = dict(span.attributes)
    assert KEY not in attributes["url.full"]
    assert attributes["url.full"].startswith("https://api.example.com/v1/search?api_key=[REDACTED:")
    assert attributes["url.full"].endswith("&q=shoes")
    # Key-based rules mask the whole value, whatever its shape.
    assert attributes["http.request.header.authorization"] == "[REDACTED:key]"
    assert attributes["gen_ai.usage.input_tokens"] == 1234  # telemetry keys are not "tokens" to hide
    assert attributes["http.response.status_code"] == 200
    assert span.events[0].attributes["exception.message"] == "rejected for [REDACTED:email]"
    assert KEY not in span.status.description


def test_clean_spans_go_out_as_they_are():
    provider, exported = pipeline(all_spans=True)
    provider.get_tracer("app").start_span("checkout", attributes={"order.id": "ORD-1042", "items": 3}).end()
    [span] = exported.get_finished_spans()
    assert type(span).__name__ != "SpanCopy"
    assert dict(span.attributes) == {"order.id": "ORD-1042", "items": 3}


def test_limited_to_our_own_spans():
    provider, exported = pipeline(all_spans=False)
    http_span(provider)
    http_span(provider, scope="otel_agentops")
    theirs, ours = exported.get_finished_spans()
    assert KEY in theirs.attributes["url.full"]
    assert KEY not in ours.attributes["url.full"]


def test_log_records_are_redacted():
    exported = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(RedactingLogRecordExporter(exported, all_records=True))
    )
    provider.get_logger("app").emit(
        severity_number=SeverityNumber.ERROR,
        body=f"login failed for jane.doe@example.com with {KEY}",
        attributes={"password": "hunter2-hunter2", "user.id": 42},
    )
    [data] = exported.get_finished_logs()
    assert data.log_record.body == "login failed for [REDACTED:email] with [REDACTED:openai_api_key]"
    assert dict(data.log_record.attributes) == {"password": "[REDACTED:key]", "user.id": 42}


def test_event_names_links_and_the_resource_are_redacted_too():
    exported = InMemorySpanExporter()
    resource = Resource.create({"process.command_args": ("python", "app.py", "--api-key", KEY)})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exported, all_spans=True)))
    tracer = provider.get_tracer("app")
    other = tracer.start_span("other")
    with tracer.start_as_current_span(
        "call", links=[Link(other.get_span_context(), {"note": "jo@example.com"})]
    ):
        trace.get_current_span().add_event("sent to jane.doe@example.com", {"attempt": 1})
    other.end()
    call, clean = exported.get_finished_spans()
    assert [(event.name, dict(event.attributes)) for event in call.events] == [
        ("sent to [REDACTED:email]", {"attempt": 1})
    ]
    [link] = call.links
    assert dict(link.attributes) == {"note": "[REDACTED:email]"}
    assert link.context == other.get_span_context()
    command = ("python", "app.py", "--api-key", "[REDACTED:openai_api_key]")
    assert call.resource.attributes["process.command_args"] == command
    # A span with nothing of its own to redact still leaves with the redacted resource, the same object.
    assert clean.resource is call.resource
    assert resource.attributes["process.command_args"][-1] == KEY  # the SDK's own resource is untouched


def test_a_card_number_written_as_a_json_number_is_redacted():
    provider, exported = pipeline(all_spans=True)
    arguments = '{"card_number": 4111111111111111, "amount": 25}'
    provider.get_tracer("app").start_span("charge", attributes={"tool.arguments": arguments}).end()
    [span] = exported.get_finished_spans()
    assert dict(span.attributes) == {
        "tool.arguments": '{"card_number":"[REDACTED:payment_card]","amount":25}'
    }


def test_log_records_leave_with_a_redacted_resource():
    exported = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=Resource.create({"process.command_args": ("app", f"--key={KEY}")}))
    provider.add_log_record_processor(
        SimpleLogRecordProcessor(RedactingLogRecordExporter(exported, all_records=True))
    )
    provider.get_logger("app").emit(severity_number=SeverityNumber.INFO, body="started")
    [data] = exported.get_finished_logs()
    assert data.resource.attributes["process.command_args"] == ("app", "--key=[REDACTED:openai_api_key]")
    assert data.log_record.body == "started"


def test_safety_net_is_on_under_opentelemetry_instrument(tmp_path):
    """An app's own span with a secret, exported by the pipeline our configurator builds."""
    app = tmp_path / "app.py"
    app.write_text(
        "from opentelemetry import trace\n"
        "with trace.get_tracer('app').start_as_current_span('call') as span:\n"
        f"    span.set_attribute('http.url', 'https://x.example/?token={KEY}')\n"
    )
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    result = run_instrumented([str(app)], env, tmp_path, timeout=60)
    assert '"http.url": "https://x.example/?token=[REDACTED:' in result.stdout
    assert KEY not in result.stdout


# --- our own content attributes: redacted when written, not scanned again on export -------------------

# With an e-mail address: its redacted form is in no memo, so a second look at it would be a scan.
LONG_PROMPT = (
    "Summarise the parcel's journey for the customer in two sentences, politely. " * 6 + "jane@example.com"
)


def our_content_span(provider, content: str, key: str = "gen_ai.input.messages"):
    span = provider.get_tracer("otel_agentops").start_span("chat gpt-4o-mini", attributes={key: content})
    span.end()


def counting_scans(monkeypatch):
    """How many times the redactor scans text (the part the safety net skips for our content)."""
    from otel_agentops.redaction.redactor import Redactor

    scans = []
    original = Redactor._scan_joined

    def counted(self, parts):
        scans.append(parts)
        return original(self, parts)

    monkeypatch.setattr(Redactor, "_scan_joined", counted)
    return scans


def test_content_we_wrote_is_exported_as_written_without_a_second_scan(monkeypatch):
    from otel_agentops.redaction import get_redactor

    provider, exported = pipeline(all_spans=True)
    content = get_redactor().content_json(
        [{"role": "user", "parts": [{"type": "text", "content": LONG_PROMPT}]}]
    )
    scans = counting_scans(monkeypatch)
    our_content_span(provider, content)
    [span] = exported.get_finished_spans()
    assert span.attributes["gen_ai.input.messages"] is content
    assert "[REDACTED:email]" in content
    assert not any("[REDACTED:email]" in part for parts in scans for part in parts)
    # Forgotten once its span went out: the memo does not keep exported content alive.
    assert not get_redactor().wrote(content)


def test_an_equal_or_altered_copy_of_our_content_is_redacted_again(monkeypatch):
    from otel_agentops.redaction import get_redactor

    provider, exported = pipeline(all_spans=True)
    content = get_redactor().content_json(
        [{"role": "user", "parts": [{"type": "text", "content": LONG_PROMPT}]}]
    )
    altered = content[:-2] + f' key {KEY}"}}]}}]'  # same shape, another object, a secret added
    our_content_span(provider, altered)
    our_content_span(provider, "".join(list(content)))  # equal text, another object
    first, second = exported.get_finished_spans()
    assert KEY not in first.attributes["gen_ai.input.messages"]
    assert "[REDACTED:openai_api_key]" in first.attributes["gen_ai.input.messages"]
    assert second.attributes["gen_ai.input.messages"] == content


def test_our_content_under_a_secret_key_is_still_masked():
    from otel_agentops.redaction import get_redactor

    provider, exported = pipeline(all_spans=True)
    content = get_redactor().content_json(
        [{"role": "user", "parts": [{"type": "text", "content": LONG_PROMPT}]}]
    )
    our_content_span(provider, content, key="app.password")
    [span] = exported.get_finished_spans()
    assert span.attributes["app.password"] == "[REDACTED:key]"
