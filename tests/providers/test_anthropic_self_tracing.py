"""anthropic 2.x traces itself under a global TracerProvider; instrumented, the user still sees ONE LLM span.

Run in a subprocess: the global TracerProvider can be set once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parent.parent / "apps" / "anthropic_app.py"
LLM_CALLS = 4  # create, create(stream=True), stream() helper, async create


def run_app(*args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ANTHROPIC_"))}
    result = subprocess.run(
        [sys.executable, str(APP), "--global-provider", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    [line] = [line for line in result.stdout.splitlines() if line.startswith('{"anthropic_app"')]
    return json.loads(line)["anthropic_app"]


def _names(report: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for span in report["spans"]:
        counts[span["name"]] = counts.get(span["name"], 0) + 1
    return counts


def _traceparent_span_ids(report: dict) -> list[str]:
    ids = []
    for request in report["requests"]:
        if request["path"] == "/v1/messages":
            assert request["traceparent"], request
            ids.append(request["traceparent"].split("-")[2])
    return ids


@pytest.fixture(scope="module")
def instrumented_report() -> dict:
    return run_app()


def test_exactly_one_llm_span_per_call(instrumented_report):
    names = _names(instrumented_report)
    assert names.pop("chat claude-haiku-4-5") == LLM_CALLS
    # Anthropic's own span of a call we do not instrument is left alone.
    assert names.pop("anthropic.messages.count_tokens") == 1
    assert names == {}  # in particular no anthropic.messages.create


def test_traceparent_names_our_span(instrumented_report):
    ours = {s["span_id"] for s in instrumented_report["spans"] if s["name"].startswith("chat ")}
    sent = _traceparent_span_ids(instrumented_report)
    assert len(sent) == LLM_CALLS
    assert set(sent) == ours  # one request per span, each naming its own LLM span


def test_without_agentops_the_sdk_traces_itself():
    """The control: the same app, not instrumented, gets Anthropic's spans (so the test above can fail)."""
    report = run_app("--no-agentops")
    names = _names(report)
    assert names == {"anthropic.messages.create": LLM_CALLS, "anthropic.messages.count_tokens": 1}
    theirs = {s["span_id"] for s in report["spans"] if s["name"] == "anthropic.messages.create"}
    assert set(_traceparent_span_ids(report)) == theirs
