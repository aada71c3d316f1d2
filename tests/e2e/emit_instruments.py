"""Record one value on every instrument otel_agentops creates and export it over OTLP, then exit.

Run by test_collector.py against the Collector: the instruments (names, kinds, units) are the plugin's
own, so the Prometheus names the Collector's prometheus exporter gives them are the ones the alert rules
must use. Usage: python emit_instruments.py OTLP_GRPC_ENDPOINT SERVICE_NAME
"""

from __future__ import annotations

import sys

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

ATTRIBUTES = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini",
    "error.type": "openai.RateLimitError",
    "agentops.policy.key": "openai|127.0.0.1:1|gpt-4o-mini",
}


def holders(meter):
    """Every object of the plugin that creates instruments from a meter."""
    from otel_agentops.config.policies import PolicySettings
    from otel_agentops.genai.metrics import GenAIMetrics
    from otel_agentops.policies.chain import PolicyChain

    return [GenAIMetrics(meter), PolicyChain(PolicySettings(), meter)]


def instruments(holder):
    names = set(getattr(holder, "__slots__", ())) | set(getattr(holder, "__dict__", {}))
    for name in sorted(names):
        value = getattr(holder, name, None)
        if type(value).__module__.startswith("opentelemetry.sdk.metrics"):
            yield value


def main() -> int:
    endpoint, service = sys.argv[1], sys.argv[2]
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, insecure=True), export_interval_millis=60_000
    )
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create({"service.name": service}))
    meter = provider.get_meter("otel_agentops")
    recorded = []
    for holder in holders(meter):
        for instrument in instruments(holder):
            if hasattr(instrument, "add"):
                instrument.add(1, ATTRIBUTES)
            elif hasattr(instrument, "record"):
                instrument.record(1.0, ATTRIBUTES)
            elif hasattr(instrument, "set"):
                instrument.set(1, ATTRIBUTES)
            else:
                continue
            recorded.append(f"{instrument.name} [{instrument.unit}]")
    provider.shutdown()  # exports
    print("\n".join(recorded))
    return 0


if __name__ == "__main__":
    sys.exit(main())
