"""Nothing secret leaves the process: the real openai SDK with content capture on, exported over OTLP."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from support.instrumented import run_instrumented
from support.otlp_receiver import OtlpReceiver

from otel_agentops.fake_provider import FakeProvider

ROOT = Path(__file__).resolve().parent.parent.parent
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"

SECRETS = {
    "api_key": "sk-proj-Abc123Def456Ghi789Jkl012Mno345Pqr678",
    "header_key": "sk-ant-api03-QwErTyUiOpAsDfGhJkLzXcVbNm1234567890abcdef",
    "cookie": "s3ss10nT0k3nV4lu3xyz987",
    "anthropic_key": "sk-ant-api03-ZyXwVuTsRqPoNmLkJiHgFeDcBa0987654321fedcba",
    "email": "jane.doe@example.com",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "card": "4111 1111 1111 1111",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
}


def test_no_secret_in_the_exported_otlp_payload():
    with FakeProvider() as fake, OtlpReceiver() as receiver:
        env = {
            "SECRETS_JSON": json.dumps(SECRETS),
            "OPENAI_BASE_URL": fake.openai_base_url,
            "OTEL_SERVICE_NAME": "secrets-app",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only",
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.http_endpoint,
        }
        run_instrumented([str(ROOT / "tests" / "apps" / "secrets_app.py")], env, ROOT)
        spans = receiver.wait_for_spans(2)
        # The secrets really were sent: the provider saw them (so their absence below means something).
        sent = json.dumps([(dict(r.headers), r.body) for r in fake.requests])
        assert SECRETS["email"] in sent and SECRETS["anthropic_key"] in sent

    assert [s.name for s in spans] == ["chat gpt-4o-mini", "chat gpt-4o-mini"]
    payload = b"".join(request.SerializeToString() for _, request in receiver.requests)
    text = payload.decode("utf-8", errors="replace")
    for name, secret in SECRETS.items():
        assert secret.encode() not in payload, name
        assert secret.replace(" ", "") not in text, name
    # ...while the content is there, with the benign parts intact and the secrets masked in place.
    for span in spans:
        messages = json.loads(span.attributes["gen_ai.input.messages"])
        user_text = messages[0]["parts"][0]["content"]
        assert user_text.startswith("What is the status of ORD-1042? Mail me at [REDACTED:")
        tool_result = messages[2]["parts"][0]["response"]
        assert '"status":"shipped"' in tool_result.replace(" ", "")
        assert "[REDACTED:" in span.attributes["gen_ai.system_instructions"]
        [output] = json.loads(span.attributes["gen_ai.output.messages"])
        assert output["parts"][0]["content"].startswith("Based on the tool result: {")
