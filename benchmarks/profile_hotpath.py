"""Where otel-agentops' per-call time goes: cProfile of the same calls bare and instrumented, subtracted.

Each side runs in a fresh process (``workload.py``'s clients and pipeline). A function's cost is its own
time (``tottime``) per LLM call, instrumented minus bare, so the openai SDK's own work cancels out and
what is left is the instrumentation: our code, the OpenTelemetry SDK work it triggers, wrapt, json...
cProfile adds roughly a microsecond per Python function call, so read the figures as a distribution
(which functions, how many calls) and take the absolute overhead from ``run.py``'s timing.

    .venv/bin/python benchmarks/profile_hotpath.py [--calls 2000] [--scenarios chat,stream_long]
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import workload  # noqa: E402


def child(setup: str, scenario: str, calls: int, out: str, env_json: str) -> None:
    import cProfile

    os.environ.update(json.loads(env_json))
    workload.setup(setup)
    run, _ = workload.scenario(scenario)
    run(max(50, calls // 5))  # warm-up
    # CPU time, not wall time: the machine may be busy with other work (the timer costs more per event)
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    run(calls)
    profiler.disable()
    profiler.dump_stats(out)


_SITE = re.compile(r".*/site-packages/")


def _label(key: tuple[str, int, str]) -> str:
    filename, line, name = key
    if filename == "~":
        return name  # a builtin, e.g. <method 'get' of 'dict' objects>
    path = _SITE.sub("", filename)
    path = path.replace(str(HERE.parent) + "/", "")
    path = re.sub(r".*/lib/python3\.\d+/", "stdlib/", path)
    return f"{path}:{line}({name})"


def _package(label: str) -> str:
    if label.startswith("otel_agentops/"):
        return "otel_agentops"
    if label.startswith("opentelemetry/sdk/"):
        return "opentelemetry-sdk"
    if label.startswith("opentelemetry/"):
        return "opentelemetry-api"
    if label.startswith(("stdlib/", "<")) or "/" not in label:
        return "stdlib/builtins"
    return label.split("/", 1)[0]


def _per_call(path: str, calls: int) -> dict[str, tuple[float, float, float]]:
    """label -> (own µs per LLM call, cumulative µs per LLM call, function calls per LLM call)."""
    stats = pstats.Stats(path).stats  # type: ignore[attr-defined]
    table: dict[str, tuple[float, float, float]] = {}
    for key, (_cc, ncalls, tottime, cumtime, _callers) in stats.items():
        label = _label(key)
        own, cum, count = table.get(label, (0.0, 0.0, 0.0))
        table[label] = (own + tottime * 1e6 / calls, cum + cumtime * 1e6 / calls, count + ncalls / calls)
    return table


def profile(scenario: str, calls: int, env: dict[str, str] | None = None, top: int = 25) -> dict[str, Any]:
    sides = {}
    with tempfile.TemporaryDirectory() as tmp:
        for setup in ("bare", "agentops"):
            out = os.path.join(tmp, f"{setup}.prof")
            subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    setup,
                    scenario,
                    str(calls),
                    out,
                    json.dumps((env or {}) if setup == "agentops" else {}),
                ],
                check=True,
            )
            sides[setup] = _per_call(out, calls)
    bare, ours = sides["bare"], sides["agentops"]
    # Only what the instrumentation adds: functions the bare run never calls, and the extra share of
    # those it calls less often. A function called as often in both (the SDK's own work) counts zero:
    # its time difference is noise from a busy machine, not overhead.
    delta = []
    for label, (own, cum, count) in ours.items():
        _b_own, _b_cum, b_count = bare.get(label, (0.0, 0.0, 0.0))
        extra = count - b_count
        if extra < 0.5 or count <= 0:
            continue
        share = extra / count
        delta.append({"function": label, "own_us": own * share, "cum_us": cum * share, "calls": extra})
    total_ours = sum(v[0] for v in ours.values())
    total_bare = sum(v[0] for v in bare.values())
    by_package: dict[str, float] = {}
    for row in delta:
        package = _package(row["function"])
        by_package[package] = by_package.get(package, 0.0) + row["own_us"]
    wrappers = [row for row in delta if row["function"].startswith("otel_agentops/genai/wrapping.py")]
    delta.sort(key=lambda row: -row["own_us"])
    return {
        "variant": "" if not env else " + " + ",".join(sorted(env)),
        "scenario": scenario,
        "calls": calls,
        "profiled_us_per_call": {
            "bare": total_bare,
            "agentops": total_ours,
            "overhead": sum(row["own_us"] for row in delta),
        },
        "function_calls_per_call": {
            "bare": sum(v[2] for v in bare.values()),
            "agentops": sum(v[2] for v in ours.values()),
        },
        "by_package_us": dict(sorted(by_package.items(), key=lambda item: -item[1])),
        "wrapper_cum_us": max((row["cum_us"] for row in wrappers), default=None),
        "top": [row for row in delta if row["own_us"] > 0][:top],
    }


def render(result: dict[str, Any]) -> str:
    lines = [
        f"### {result['scenario']}{result.get('variant', '')} "
        f"({result['calls']} calls, cProfile, instrumented - bare)",
        "",
        "profiled µs/call: bare {bare:.0f}, otel-agentops {agentops:.0f}; "
        "the added functions' own time {overhead:.0f}".format(**result["profiled_us_per_call"])
        + "; Python function calls per LLM call: bare {bare:.0f}, otel-agentops {agentops:.0f}".format(
            **result["function_calls_per_call"]
        ),
        "",
        "by package (own time, µs/call): "
        + ", ".join(f"{name} {us:+.1f}" for name, us in result["by_package_us"].items() if abs(us) >= 0.5),
        "",
        "| function | own µs/call | cum µs/call | calls/call |",
        "|---|---:|---:|---:|",
    ]
    for row in result["top"]:
        lines.append(
            f"| `{row['function']}` | {row['own_us']:.1f} | {row['cum_us']:.1f} | {row['calls']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--scenarios", default="chat,stream")
    parser.add_argument("--json", help="write the results here too")
    parser.add_argument(
        "--variant",
        choices=("defaults", "content", "policies"),
        default="defaults",
        help="the otel-agentops configuration profiled (as run.py's agentops, agentops+content, ...)",
    )
    parser.add_argument("--child", nargs=5, metavar=("SETUP", "SCENARIO", "CALLS", "OUT", "ENV"))
    args = parser.parse_args()
    if args.child:
        setup, scenario, calls, out, env_json = args.child
        child(setup, scenario, int(calls), out, env_json)
        return
    from run import CAPTURE, POLICIES

    env = {"defaults": {}, "content": CAPTURE, "policies": POLICIES}[args.variant]
    results = [
        profile(name, args.calls if name != "stream" else max(50, args.calls // 4), env)
        for name in args.scenarios.split(",")
    ]
    for result in results:
        print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
