"""Run a program under `opentelemetry-instrument` in a clean environment (no OTEL_* from the test run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"


def run_instrumented(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    result = subprocess.run(
        [str(INSTRUMENT), sys.executable, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def json_spans(stdout: str) -> list[dict]:
    """The spans the SDK's `console` exporter printed (one JSON object per span, among other output)."""
    decoder = json.JSONDecoder()
    spans, index = [], 0
    while (start := stdout.find("{", index)) != -1:
        try:
            obj, index = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            index = start + 1
            continue
        if isinstance(obj, dict) and "context" in obj and "attributes" in obj:
            spans.append(obj)
    return spans
