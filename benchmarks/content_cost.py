"""What content capture and its redaction cost inside real calls, in CPU time, measured in one process.

``run.py`` times each configuration in its own process; for a difference of some tens of µs on calls of
~900 µs, its spreads (hundreds of µs between rounds on a shared 2-core machine) leave the figure loose.
Here one process with content capture on (``span_only``) runs the same scenario in three modes,
switched between blocks of calls, in a rotating order within each round:

* ``off``: no content recorded (the telemetry objects' capture flags cleared): the defaults;
* ``raw``: content recorded as plain compact JSON, *not redacted*: what capture costs without redaction.
  otel-agentops never does this (content is always redacted); the mode exists here only as a floor;
* ``redacted``: content recorded as otel-agentops records it, redacted.

A round's differences (``redacted - off``, ``raw - off``, ``redacted - raw``: capture + redaction,
capture alone, redaction alone) are paired within the round, so slow phases of the machine cancel; the
report gives their median over the rounds with a bootstrap 95 % interval. CPU time is the process's
(all threads, the batch worker pinned on the same CPU, as in ``run.py``).

    .venv/bin/python benchmarks/content_cost.py [--rounds 80] [--calls 100] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SCENARIOS = ("chat_4k_fresh", "chat_4k")
MODES = ("off", "raw", "redacted")
DIFFERENCES = {
    "capture + redaction": ("redacted", "off"),
    "capture alone (no redaction)": ("raw", "off"),
    "redaction alone": ("redacted", "raw"),
}


def _switches() -> Callable[[str], None]:
    """A function that puts the instrumentation in one of ``MODES``."""
    from otel_agentops.genai.telemetry import Telemetry

    # The instrumentors keep their Telemetry objects to themselves; the benchmark finds them all.
    telemetries = [o for o in gc.get_objects() if isinstance(o, Telemetry)]
    if not telemetries:
        raise RuntimeError("no otel-agentops Telemetry object: was the instrumentation set up?")
    redacted = Telemetry.content_json
    plain = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode

    def raw(self: Telemetry, value: object) -> str:
        return plain(value)

    def switch(mode: str) -> None:
        for telemetry in telemetries:
            telemetry.capture_on_span = telemetry.capture_content = mode != "off"
        Telemetry.content_json = raw if mode == "raw" else redacted  # type: ignore[method-assign]

    return switch


def _median_interval(values: list[float], rng: random.Random, resamples: int = 2000) -> tuple[float, float]:
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def measure(scenario: str, rounds: int, calls: int, switch: Callable[[str], None]) -> dict[str, Any]:
    import workload

    run, _ = workload.scenario(scenario)
    for mode in MODES:  # warm-up: imports, memos, lazy SDK state
        switch(mode)
        run(calls * 3)
    per_mode: dict[str, list[float]] = {mode: [] for mode in MODES}
    for index in range(rounds):
        order = MODES[index % 3 :] + MODES[: index % 3]
        for mode in order:
            switch(mode)
            start = time.process_time()
            run(calls)
            per_mode[mode].append((time.process_time() - start) / calls * 1e6)
    switch("redacted")
    rng = random.Random(0)
    result: dict[str, Any] = {
        "cpu_us_median": {mode: statistics.median(times) for mode, times in per_mode.items()},
        "rounds": rounds,
        "calls_per_block": calls,
    }
    for label, (a, b) in DIFFERENCES.items():
        paired = [x - y for x, y in zip(per_mode[a], per_mode[b], strict=True)]
        low, high = _median_interval(paired, rng)
        result[label] = {"median_us": statistics.median(paired), "ci95_us": [low, high]}
    return result


def render(results: dict[str, Any]) -> str:
    lines = [
        "## Content capture and redaction inside real calls (CPU time, one process, paired rounds)",
        "",
        "| scenario | CPU µs/call, defaults | capture + redaction | capture alone (no redaction) "
        "| redaction alone |",
        "|---|---:|---:|---:|---:|",
    ]
    for scenario, result in results["scenarios"].items():
        cells = [f"{result['cpu_us_median']['off']:.0f}"]
        for label in DIFFERENCES:
            low, high = result[label]["ci95_us"]
            cells.append(f"+{result[label]['median_us']:.1f} [{low:+.1f}…{high:+.1f}]")
        lines.append(f"| {scenario} | " + " | ".join(cells) + " |")
    first = next(iter(results["scenarios"].values()))
    lines += [
        "",
        f"Median over {first['rounds']} rounds of {first['calls_per_block']} calls per mode, "
        "[bootstrap 95 % interval of the median]. The modes are described in `benchmarks/content_cost.py`.",
        f"Spans: {results['spans']['spans_ended']} ended, {results['spans']['spans_dropped']} dropped by the "
        "batch processor's full queue (its worker shares the one CPU).",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=80)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--cpu", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="write content_cost.json and .md here")
    args = parser.parse_args()

    os.environ["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = "span_only"
    import workload

    pipeline = workload.setup("agentops")
    assert pipeline is not None
    workload._pin(args.cpu)
    names = args.scenarios.split(",")
    workload.scenario(names[0])  # imports openai, which is when the instrumentation patches it
    switch = _switches()
    results = {
        "scenarios": {name: measure(name, args.rounds, args.calls, switch) for name in names},
        "versions": workload.versions(),
    }
    done = pipeline.finish()
    results["spans"] = {key: done[key] for key in ("spans_ended", "spans_exported", "spans_dropped")}
    text = render(results)
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "content_cost.json").write_text(json.dumps(results, indent=2) + "\n")
        (args.out / "content_cost.md").write_text(text)


if __name__ == "__main__":
    main()
