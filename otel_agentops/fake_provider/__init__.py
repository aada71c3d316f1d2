"""A fake LLM provider on a loopback port for tests, examples and the demo (no API key, no network).

    with FakeProvider() as fp:
        client = openai.OpenAI(api_key="test", base_url=fp.openai_base_url)
        fp.add_fault(Fault(status=429, retry_after="1"))

See `faults` for the fault header syntax, `control` for the HTTP control API, `scenario` for the default
answers and token formulas, and `wire` for adding another provider's wire format.
"""

from otel_agentops.fake_provider.faults import Fault
from otel_agentops.fake_provider.recording import RecordedRequest
from otel_agentops.fake_provider.scenario import Reply, ToolCall
from otel_agentops.fake_provider.server import FakeProvider

__all__ = ["FakeProvider", "Fault", "RecordedRequest", "Reply", "ToolCall"]
