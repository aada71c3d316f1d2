# ruff: noqa: RUF001, RUF002 - typographic characters in messages are meant
"""The benchmark suite in one run: overhead against the bare SDK and the peers, memory, pipeline throughput.

    .venv/bin/python benchmarks/run.py            # full suite, ~10 min on 2 cores; writes benchmarks/results/
    .venv/bin/python benchmarks/run.py --quick    # < 1 min smoke version; writes to a temp dir unless --out

What it does (see benchmarks/README.md for the method):

1. Overhead: one long-lived worker process per configuration (``workload.py serve``), all pinned to the
   same CPU, the real ``openai``/``anthropic`` SDKs on an in-process transport with canned responses.
   Repetitions are interleaved: each round runs one repetition of every scenario in every configuration,
   in a rotating order, so load from elsewhere on the machine hits every configuration alike. Times are
   process CPU time (wall time is kept too); overhead = configuration − bare, paired within a round.
2. Memory: RSS after warm-up and after up to 100k non-streaming chats per configuration (time-capped),
   tracemalloc as a cross-check.
3. Pipeline throughput: spans/s through BatchSpanProcessor into a no-op exporter, and through the tail
   sampler (``benchmarks/tail_sampling.py``) when ``otel_agentops.sdk.tail_sampling`` exists.
4. Instructions per call under callgrind (when valgrind and a C compiler are there): a noise-free check.
5. The hot-path profile (``profile_hotpath.py``).

results.json holds everything; results.md and overhead.png are rendered from it by ``report.py``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import peers  # noqa: E402
import report  # noqa: E402
from workload import REPLY  # noqa: E402

WORKLOAD = str(HERE / "workload.py")

CAPTURE = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_only"}
# Every resilience policy configured, none triggered: the canned responses never fail, and the limits are
# far above the rate the benchmark reaches.
POLICIES = {
    "OTEL_AGENTOPS_RETRY_MAX_ATTEMPTS": "4",
    "OTEL_AGENTOPS_CIRCUIT_BREAKER_FAILURE_THRESHOLD": "5",
    "OTEL_AGENTOPS_RATE_LIMIT_RPM": "100000000",
    "OTEL_AGENTOPS_RATE_LIMIT_TPM": "100000000000",
    "OTEL_AGENTOPS_FALLBACK_MODELS": "gpt-4o-mini>gpt-4o,claude-haiku-4-5>claude-sonnet-4-5",
}


@dataclass
class Config:
    name: str
    setup: str
    env: dict[str, str] = field(default_factory=dict)
    peer: str | None = None  # runs in that peer's venv
    label: str = ""
    python: str = sys.executable


CONFIGS = [
    Config("bare", "bare", label="bare SDK"),
    Config("agentops", "agentops", label="otel-agentops defaults"),
    Config("agentops+content", "agentops", CAPTURE, label="otel-agentops, content capture + redaction"),
    Config("agentops+policies", "agentops", POLICIES, label="otel-agentops, every policy on, none triggered"),
    Config("official", "official", peer="official", label="official genai-openai"),
    # OpenLLMetry records prompts and completions by default; switched off so it is compared with our
    # defaults on equal terms (TRACELOOP_TRACE_CONTENT=false).
    Config(
        "openllmetry",
        "openllmetry",
        {"TRACELOOP_TRACE_CONTENT": "false"},
        peer="openllmetry",
        label="OpenLLMetry",
    ),
    Config("official-v2", "official-v2", peer="official-v2", label="official openai-v2 (older)"),
]
DEFAULT_CONFIGS = ["bare", "agentops", "agentops+content", "agentops+policies", "official", "openllmetry"]
QUICK_CONFIGS = [
    "bare",
    "agentops",
    "agentops+policies",
    "official",
    "openllmetry",
]  # peers when already made

OPENAI_SCENARIOS = ["chat", "tools", "stream", "stream_long", "async", "chat_4k", "chat_4k_fresh"]
# Calls counted under callgrind per scenario: enough that a batch export or a garbage collection landing in
# the window moves the per-call count by little.
INSTRUCTION_CALLS = 60
ANTHROPIC_SCENARIOS = ["anthropic", "anthropic_stream"]

# Variables that would change what a configuration does if inherited from the caller's shell.
_SCRUB = re.compile(r"^(OTEL_|TRACELOOP_|ANTHROPIC_OPEN_TELEMETRY)")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not _SCRUB.match(key)}
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


# ---------------------------------------------------------------- machine


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def busy_share(seconds: float = 1.0) -> float:
    """How busy the machine is with other work: the share of all CPUs' time not idle over `seconds`."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
        idle = values[3] + values[4]
        return sum(values) - idle, sum(values)

    try:
        busy0, total0 = sample()
        time.sleep(seconds)
        busy1, total1 = sample()
        return (busy1 - busy0) / max(1, total1 - total0)
    except OSError:
        return float("nan")


def our_versions() -> dict[str, str]:
    names = (
        "otel-agentops",
        "openai",
        "anthropic",
        "httpx2",
        "opentelemetry-api",
        "opentelemetry-sdk",
        "wrapt",
    )
    found = {}
    for name in names:
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


# ---------------------------------------------------------------- workers


class Worker:
    def __init__(self, config: Config, cpu: int | None, logs: Path) -> None:
        self.config = config
        command = [config.python, WORKLOAD, "serve", "--setup", config.setup]
        if cpu is not None:
            command += ["--cpu", str(cpu)]
        self.stderr_path = logs / f"{config.name}.stderr.log"
        self.stderr = open(self.stderr_path, "w")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            text=True,
            env=clean_env(config.env),
            cwd=tempfile.gettempdir(),  # not the repo: a peer's python must not see our package
        )
        self.hello: dict[str, Any] | None = None

    def read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY) :])
        tail = self.stderr_path.read_text()[-2000:] if self.stderr_path.exists() else ""
        raise RuntimeError(f"worker {self.config.name} exited ({self.process.wait()}):\n{tail}")

    def ask(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self.read()

    def close(self) -> None:
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.stderr.close()


def _quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    q1, q3 = (
        (statistics.quantiles(ordered, n=4)[i] for i in (0, 2)) if len(ordered) >= 2 else (ordered[0],) * 2
    )
    return {"median": statistics.median(ordered), "min": ordered[0], "max": ordered[-1], "q1": q1, "q3": q3}


def timing(
    configs: list[Config], scenarios: list[str], rounds: int, target_s: float, cpu: int | None, logs: Path
) -> dict[str, Any]:
    log(
        f"timing: {len(configs)} configurations × {len(scenarios)} scenarios × {rounds} rounds, "
        f"~{target_s} s each"
    )
    workers = {}
    for config in configs:  # started together, unpinned while they import; each pins itself when ready
        workers[config.name] = Worker(config, cpu, logs)
    result: dict[str, Any] = {"scenarios": {}, "workers": {}}
    try:
        for name, worker in workers.items():
            worker.hello = worker.read()
            result["workers"][name] = {
                "setup_s": worker.hello["setup_s"],
                "versions": worker.hello["versions"],
            }
        calls: dict[str, int] = {}
        eligible: dict[str, list[str]] = {}
        for scenario in scenarios:
            bare = workers["bare"].ask(cmd="warmup", scenario=scenario, calls=30)
            if "error" in bare:
                log(f"  {scenario}: skipped ({bare['error']})")
                continue
            calls[scenario] = max(20, round(target_s / bare["per_call_s"]))
            info: dict[str, Any] = {
                "calls_per_repetition": calls[scenario],
                "chunks": bare["chunks"],
                "configs": {},
            }
            result["scenarios"][scenario] = info
            eligible[scenario] = []
            for name, worker in workers.items():
                warm = bare if name == "bare" else worker.ask(cmd="warmup", scenario=scenario, calls=30)
                if "error" in warm:
                    continue
                eligible[scenario].append(name)
                info["configs"][name] = {
                    "spans_per_call": warm["spans_per_call"],
                    "span": warm["span"],
                    "cpu_us": [],
                    "wall_us": [],
                }
                worker.ask(cmd="warmup", scenario=scenario, calls=max(30, calls[scenario] // 4))
            log(
                f"  {scenario}: {calls[scenario]} calls per repetition "
                f"({bare['per_call_s'] * 1e6:.0f} µs/call bare)"
            )
        started = time.monotonic()
        for round_number in range(rounds):
            for scenario, names in eligible.items():
                order = names[round_number % len(names) :] + names[: round_number % len(names)]
                for name in order:
                    reply = workers[name].ask(cmd="run", scenario=scenario, calls=calls[scenario])
                    entry = result["scenarios"][scenario]["configs"][name]
                    entry["cpu_us"].append(reply["cpu_us"])
                    entry["wall_us"].append(reply["wall_us"])
            log(f"  round {round_number + 1}/{rounds} done ({time.monotonic() - started:.0f} s)")
        for name, worker in workers.items():
            result["workers"][name].update(worker.ask(cmd="finish"))
    finally:
        for worker in workers.values():
            worker.close()
    # Overheads, paired within a round: the same load hit both sides of each difference.
    for info in result["scenarios"].values():
        configs_info = info["configs"]
        bare_cpu = configs_info["bare"]["cpu_us"]
        ours = configs_info.get("agentops", {}).get("cpu_us")
        for name, entry in configs_info.items():
            entry["cpu"] = _quantiles(entry["cpu_us"])
            entry["wall"] = _quantiles(entry["wall_us"])
            if name != "bare":
                entry["overhead"] = _quantiles(
                    [c - b for c, b in zip(entry["cpu_us"], bare_cpu, strict=True)]
                )
                entry["overhead_wall"] = _quantiles(
                    [c - b for c, b in zip(entry["wall_us"], configs_info["bare"]["wall_us"], strict=True)]
                )
            if name.startswith("agentops+") and ours:
                entry["vs_agentops"] = _quantiles([c - b for c, b in zip(entry["cpu_us"], ours, strict=True)])
    return result


# ---------------------------------------------------------------- memory, instructions, throughput


def memory_job(config: Config, calls: int, cap: float, trace_calls: int, warmup: int) -> dict[str, Any]:
    command = [
        config.python,
        WORKLOAD,
        "memory",
        "--setup",
        config.setup,
        "--calls",
        str(calls),
        "--cap",
        str(cap),
    ]
    command += ["--warmup", str(warmup)]
    if trace_calls:
        command += ["--tracemalloc", str(trace_calls)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=clean_env(config.env),
        cwd=tempfile.gettempdir(),
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(REPLY):
            return json.loads(line[len(REPLY) :])
    return {"error": done.stderr.strip()[-1500:]}


_CALLGRIND_HELPER = r"""
#include <valgrind/callgrind.h>
void bench_start(void) { CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; }
void bench_stop(const char *label) { CALLGRIND_STOP_INSTRUMENTATION; CALLGRIND_DUMP_STATS_AT(label); }
"""


def callgrind_helper(cache: Path) -> tuple[str | None, str]:
    """A shared library issuing the callgrind client requests, built once; (path, or None and why not)."""
    valgrind, compiler = shutil.which("valgrind"), shutil.which("cc") or shutil.which("gcc")
    if not valgrind:
        return None, "valgrind not installed (apt-get install valgrind)"
    if not compiler:
        return None, "no C compiler for the callgrind client-request helper"
    library = cache / "libbenchcallgrind.so"
    if library.exists():
        return str(library), ""
    cache.mkdir(parents=True, exist_ok=True)
    source = cache / "benchcallgrind.c"
    source.write_text(_CALLGRIND_HELPER)
    built = subprocess.run(
        [compiler, "-O1", "-shared", "-fPIC", "-o", str(library), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        return (
            None,
            "cannot build the callgrind helper (valgrind/callgrind.h missing?): "
            + built.stderr.strip()[-300:],
        )
    return str(library), ""


def instructions_job(config: Config, helper: str, scenarios: list[str], calls: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
            config.python, WORKLOAD, "instructions", "--setup", config.setup,
            "--scenarios", ",".join(scenarios), "--calls", str(calls), "--helper", helper,
        ]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            env=clean_env(config.env),
            cwd=tempfile.gettempdir(),
            check=False,
        )
        counted: dict[str, Any] = {}
        for path in Path(tmp).glob("cg.out.*"):  # the dumps the helper asked for, one per scenario
            text = path.read_text(errors="replace")
            label = re.search(r"^desc: Trigger: Client Request: (\S+)", text, re.MULTILINE)
            total = re.search(r"^totals: (\d+)", text, re.MULTILINE)
            if label and total and int(total.group(1)) > 0:
                counted[label.group(1)] = {
                    "instructions_per_call": int(total.group(1)) / calls,
                    "calls": calls,
                }
        if done.returncode != 0 or not counted:
            return {"error": (done.stderr or "no callgrind output").strip()[-800:]}
        counted["seconds"] = time.monotonic() - started
        return counted


def run_jobs(jobs: list[tuple[str, Any]], parallel: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        futures = {pool.submit(function): key for key, function in jobs}
        for future in concurrent.futures.as_completed(futures):
            key = futures[future]
            try:
                results[key] = future.result()
            except Exception as exc:  # one failed job must not lose the others
                results[key] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  {key}: done")
    return results


def pipeline_throughput(spans: int, repeats: int, cpu: int | None) -> dict[str, Any]:
    command = [sys.executable, WORKLOAD, "pipeline", "--spans", str(spans), "--repeats", str(repeats)]
    if cpu is not None:
        command += ["--cpu", str(cpu)]
    done = subprocess.run(command, capture_output=True, text=True, env=clean_env({}), check=False)
    for line in done.stdout.splitlines():
        if line.startswith(REPLY):
            return json.loads(line[len(REPLY) :])
    return {"error": done.stderr.strip()[-1500:]}


def tail_sampling(spans: int, repeats: int) -> dict[str, Any]:
    try:
        import otel_agentops.sdk.tail_sampling  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"otel_agentops.sdk.tail_sampling not importable ({exc})"}
    script = HERE / "tail_sampling.py"
    if not script.exists():
        return {"skipped": "benchmarks/tail_sampling.py not there"}
    done = subprocess.run(
        [sys.executable, str(script), "--spans", str(spans), "--repeats", str(repeats)],
        capture_output=True, text=True, env=clean_env({}), check=False, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-1500:]}
    result: dict[str, Any] = {"output": done.stdout.strip()}
    for key, pattern in (
        ("caller_spans_per_s", r"on_end path\s+([\d,]+)"),
        ("end_to_end_spans_per_s", r"end to end[^\d]+([\d,]+)"),
    ):
        match = re.search(pattern, done.stdout)
        if match:
            result[key] = float(match.group(1).replace(",", ""))
    return result


def profile(calls: int, out: Path) -> dict[str, Any]:
    path = out / "profile.json"
    done = subprocess.run(
        [sys.executable, str(HERE / "profile_hotpath.py"), "--calls", str(calls), "--json", str(path)],
        capture_output=True, text=True, env=clean_env({}), check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-1500:]}
    results = json.loads(path.read_text())
    path.unlink()
    return {"scenarios": results, "text": done.stdout}


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="< 1 min: fewer scenarios and rounds, no installs"
    )
    parser.add_argument(
        "--out", help="output directory (default benchmarks/results, or a temp dir with --quick)"
    )
    parser.add_argument("--configs", help=f"comma-separated, from {', '.join(c.name for c in CONFIGS)}")
    parser.add_argument(
        "--scenarios", help=f"comma-separated, from {', '.join(OPENAI_SCENARIOS + ANTHROPIC_SCENARIOS)}"
    )
    parser.add_argument("--rounds", type=int, help="interleaved repetitions (default 15, quick 3)")
    parser.add_argument("--target", type=float, help="seconds per repetition (default 0.15, quick 0.12)")
    parser.add_argument("--memory-calls", type=int, default=100_000)
    parser.add_argument("--memory-cap", type=float, help="seconds per configuration (default 25, quick 3)")
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--no-instructions", action="store_true", help="skip the callgrind cross-check")
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--no-peers", action="store_true", help="only our configurations")
    parser.add_argument("--reinstall-peers", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quick = args.quick
    random.seed(args.seed)
    out = (
        Path(args.out)
        if args.out
        else (Path(tempfile.gettempdir()) / "otel-agentops-bench-quick" if quick else HERE / "results")
    )
    out.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="otel-agentops-bench-logs-"))
    began = time.monotonic()

    results: dict[str, Any] = {
        "mode": "quick" if quick else "full",
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": machine(),
        "versions": our_versions(),
    }
    results["machine"]["busy_share_before"] = busy_share()
    log(
        f"machine: {results['machine']['cpu']}, {results['machine']['cores']} cores, "
        f"load {results['machine']['loadavg_start']}"
    )

    # configurations and peers
    wanted = args.configs.split(",") if args.configs else list(QUICK_CONFIGS if quick else DEFAULT_CONFIGS)
    by_name = {config.name: config for config in CONFIGS}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        parser.error(f"unknown configurations: {unknown}")
    if "bare" not in wanted:
        wanted.insert(0, "bare")
    if args.no_peers:
        wanted = [name for name in wanted if by_name[name].peer is None]
    peer_names = {by_name[name].peer for name in wanted if by_name[name].peer}
    if not args.no_peers and not quick:
        peer_names.add("official-v2")  # probed for the report (install/import findings) even when not timed
    results["peers"] = {}
    for peer_name in sorted(peer_names):
        env = peers.ensure(
            peers.PEERS[peer_name],
            openai_version=results["versions"]["openai"],
            sdk_version=results["versions"]["opentelemetry-sdk"],
            reinstall=args.reinstall_peers,
            offline=quick,
            log=log,
        )
        results["peers"][peer_name] = env.as_dict()
        for config in CONFIGS:
            if config.peer == peer_name and env.python:
                config.python = env.python
    configs = []
    for name in wanted:
        config = by_name[name]
        if config.peer and not results["peers"][config.peer]["python"]:
            log(f"  {name}: no working install, not timed (see the peer findings)")
            continue
        configs.append(config)
    results["configs"] = {
        c.name: {"label": c.label, "setup": c.setup, "env": c.env, "peer": c.peer} for c in configs
    }

    # pin the workers to one CPU: the last one we may use (the runner itself stays mostly idle)
    affinity = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    cpu = affinity[-1] if affinity else None
    results["pinned_cpu"] = cpu

    # 1. overhead
    if args.scenarios:
        scenarios = args.scenarios.split(",")
    elif quick:
        scenarios = ["chat", "stream"]
    else:
        scenarios = OPENAI_SCENARIOS + ANTHROPIC_SCENARIOS
    rounds = args.rounds or (3 if quick else 15)
    target = args.target or (0.12 if quick else 0.15)
    results["settings"] = {
        "rounds": rounds,
        "target_s": target,
        "scenarios": scenarios,
        "timer": "process CPU time",
    }
    results["timing"] = timing(configs, scenarios, rounds, target, cpu, logs)
    results["elapsed"] = {"timing_s": time.monotonic() - began}

    # 2 + 4. memory and instructions: 2 jobs at a time (neither is a timing measurement)
    jobs: list[tuple[str, Any]] = []
    if not args.no_memory:
        cap = args.memory_cap or (3.0 if quick else 25.0)
        memory_configs = configs if not quick else [c for c in configs if c.name == "agentops"]
        trace_calls, warmup = (0, 300) if quick else (1500, 1500)
        for config in memory_configs:
            jobs.append(
                (
                    f"memory:{config.name}",
                    lambda c=config: memory_job(c, args.memory_calls, cap, trace_calls, warmup),
                )
            )
    results["instructions"] = {}
    if not args.no_instructions and not quick:
        helper, why = callgrind_helper(peers.cache_root().parent / "bench-callgrind")
        if helper is None:
            results["instructions"]["skipped"] = why
        else:
            for config in configs:
                # chat everywhere; the 4 KB prompts (repeated, and new on every call) where content
                # capture + redaction is the question
                wanted_scenarios = {
                    "agentops": ["chat", "chat_4k", "chat_4k_fresh"],
                    "agentops+content": ["chat_4k", "chat_4k_fresh"],
                }.get(config.name, ["chat"])
                jobs.append(
                    (
                        f"instructions:{config.name}",
                        lambda c=config, w=wanted_scenarios: instructions_job(
                            c, helper, w, INSTRUCTION_CALLS
                        ),
                    )
                )
    else:
        results["instructions"]["skipped"] = "--quick" if quick else "--no-instructions"
    if jobs:
        log(f"memory / instructions: {len(jobs)} jobs, 2 at a time")
        done = run_jobs(jobs, parallel=2)
        results["memory"] = {
            key.split(":", 1)[1]: value for key, value in done.items() if key.startswith("memory:")
        }
        results["instructions"].update(
            {key.split(":", 1)[1]: value for key, value in done.items() if key.startswith("instructions:")}
        )
    results["elapsed"]["memory_instructions_s"] = time.monotonic() - began - results["elapsed"]["timing_s"]

    # 3. pipeline throughput
    log("pipeline throughput")
    results["throughput"] = {
        "batch": pipeline_throughput(20_000 if quick else 100_000, 1 if quick else 3, cpu),
        "tail_sampling": tail_sampling(20_000 if quick else 100_000, 1 if quick else 3),
    }

    # 5. profile
    if not args.no_profile and not quick:
        log("profile")
        results["profile"] = profile(1000, out)
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["machine"]["busy_share_after"] = busy_share()
    results["elapsed"]["total_s"] = time.monotonic() - began

    (out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    notes = report.write(results, out)
    shutil.rmtree(logs, ignore_errors=True)
    log(
        f"wrote {out}/results.md, results.json{', overhead.png' if 'chart' not in notes else ''} "
        f"in {results['elapsed']['total_s']:.0f} s"
    )
    for note in notes.values():
        log(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
