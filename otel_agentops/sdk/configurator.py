"""The SDK set-up `opentelemetry-instrument` runs: the standard one plus what otel-agentops adds.

Entry points `opentelemetry_distro` / `opentelemetry_configurator` named `agentops`. The configurator is
the SDK's own `_OTelSDKConfigurator` (every standard OTEL_* variable keeps its meaning) with the run
summary reader added when OTEL_AGENTOPS_SUMMARY is on, and our span pipeline (`otel_agentops.sdk.pipeline`):
each exporter behind a `GuardedBatchSpanProcessor`, and the tail sampler in front of them when
OTEL_AGENTOPS_SAMPLING=tail. When another configurator (e.g. the one of opentelemetry-distro) is
installed too, OpenTelemetry loads only the first one found; set OTEL_PYTHON_CONFIGURATOR=agentops to
choose ours (tail sampling is added either way, by `otel_agentops.sdk.pipeline.install_tail_sampling`).
"""

from __future__ import annotations

import os
from typing import Any

from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]
from opentelemetry.sdk._configuration import _OTelSDKConfigurator

from otel_agentops.config import Settings
from otel_agentops.sdk.pipeline import SpanPipeline

SUMMARY_READER = "agentops_summary"


class AgentOpsConfigurator(_OTelSDKConfigurator):  # type: ignore[misc]
    configured = False  # whether it set up the SDK in this process; features that need it check this

    def _configure(self, **kwargs: Any) -> None:
        settings = Settings.from_env()
        if settings.summary:
            names = list(kwargs.get("metric_exporter_names") or [])
            names.append(SUMMARY_READER)
            kwargs["metric_exporter_names"] = names
        super()._configure(**SpanPipeline.from_env().sdk_arguments(kwargs))
        AgentOpsConfigurator.configured = True


class AgentOpsDistro(BaseDistro):  # type: ignore[misc]
    """Same defaults as opentelemetry-distro: export traces and metrics over OTLP unless told otherwise."""

    def _configure(self, **kwargs: Any) -> None:
        os.environ.setdefault("OTEL_TRACES_EXPORTER", "otlp")
        os.environ.setdefault("OTEL_METRICS_EXPORTER", "otlp")
