"""End-to-end helpers: real Jaeger v2 and OpenTelemetry Collector processes on free loopback ports.

The binaries come from scripts/otel-binaries.sh (`make binaries`; `make test` builds them when missing).
Where they are missing the tests skip, saying why, except under CI=true, where they fail. Every process
runs in its own process group, is waited for with a bounded readiness loop, and is killed (group and all)
by a finalizer, whatever the test did.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
CONFIG = ROOT / "collector-config"
BUILD_SCRIPT = ROOT / "scripts" / "otel-binaries.sh"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"

START_TIMEOUT = 60.0  # a process' readiness
DATA_TIMEOUT = 45.0  # telemetry showing up where it should
APP_TIMEOUT = 120.0  # one run of the example agent

T = TypeVar("T")

AGENT_ENV = {
    "OTEL_LOGS_EXPORTER": "none",
    "OTEL_AGENTOPS_AGENT_FUNCTIONS": "support_agent.agent:run_agent=support-agent",
    "OTEL_AGENTOPS_TOOL_FUNCTIONS": "support_agent.tools:lookup_order,support_agent.tools:search_docs",
    "OTEL_BSP_SCHEDULE_DELAY": "100",
    "OTEL_METRIC_EXPORT_INTERVAL": "1000",
}


def unavailable(reason: str) -> None:
    """Skip, or fail under CI=true: CI must never pass by skipping the real telemetry path."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: e2e tests must run)")
    pytest.skip(reason)


def binary(name: str) -> Path:
    path = Path(
        subprocess.run(
            ["bash", str(BUILD_SCRIPT), "path", name], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    if not path.is_file():
        why = "Go is not installed" if shutil.which("go") is None else "it is not built yet"
        unavailable(f"{path.name} is missing ({why}): run `make binaries` (scripts/otel-binaries.sh)")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(
    what: str, probe: Callable[[], T | None], timeout: float, diagnostics: Callable[[], str] = str
) -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds, saying what lacked."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = probe()
            if result:
                return result
        except (OSError, ValueError, AssertionError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{detail}\n{diagnostics()}")
        time.sleep(0.25)


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(errors="replace")


def http_post_json(url: str, body: Any, timeout: float = 5.0) -> Any:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read() or b"null")


@dataclass
class Process:
    """A child in its own process group with its output in a log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> Process:
        with self.log.open("wb") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return f"--- last lines of {self.name}'s log ({self.log}) ---\n" + "\n".join(text)

    def stop(self, grace: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.popen.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def base_env() -> dict[str, str]:
    """The environment minus anything that would redirect our processes' telemetry or API calls."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_", "AGENTOPS_"))}


@dataclass
class Jaeger:
    process: Process
    otlp_grpc: str
    otlp_http: str
    ui: str

    def traces(self, service: str) -> list[dict[str, Any]]:
        status, body = http_get(f"{self.ui}/api/traces?service={service}&limit=1000&lookback=1h")
        if status != 200:
            raise AssertionError(f"Jaeger answered {status}: {body[:300]}")
        return json.loads(body)["data"] or []

    def wait_for_traces(
        self, service: str, count: int, timeout: float = DATA_TIMEOUT
    ) -> list[dict[str, Any]]:
        """Exactly `count` traces, complete (no span still missing its parent), once they stop changing."""

        def probe() -> list[dict[str, Any]] | None:
            traces = self.traces(service)
            if len(traces) < count or not all(complete(trace) for trace in traces):
                return None
            time.sleep(0.5)
            again = self.traces(service)
            return again if span_count(again) == span_count(traces) else None

        traces = wait_for(f"{count} traces of {service} in Jaeger", probe, timeout, self.process.tail)
        assert len(traces) == count, [root_name(trace) for trace in traces]
        return traces


def span_count(traces: list[dict[str, Any]]) -> int:
    return sum(len(trace["spans"]) for trace in traces)


def parent_id(span: dict[str, Any]) -> str | None:
    return next((ref["spanID"] for ref in span.get("references", []) if ref["refType"] == "CHILD_OF"), None)


def complete(trace: dict[str, Any]) -> bool:
    ids = {span["spanID"] for span in trace["spans"]}
    return all(parent_id(span) in ids for span in trace["spans"] if parent_id(span) is not None)


def root(trace: dict[str, Any]) -> dict[str, Any]:
    [top] = [span for span in trace["spans"] if parent_id(span) is None]
    return top


def root_name(trace: dict[str, Any]) -> str:
    return root(trace)["operationName"]


def tags(item: dict[str, Any]) -> dict[str, Any]:
    return {tag["key"]: tag["value"] for tag in item.get("tags", [])}


def process_tags(trace: dict[str, Any], span: dict[str, Any]) -> dict[str, Any]:
    return tags(trace["processes"][span["processID"]])


@dataclass
class FakeProvider:
    process: Process
    url: str

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def add_fault(self, fault: dict[str, Any], times: int | None = 1, path: str | None = None) -> None:
        http_post_json(f"{self.url}/_fake/faults", {"fault": fault, "times": times, "path": path})

    def script(self, reply: dict[str, Any], times: int | None = 1, path: str | None = None) -> None:
        http_post_json(f"{self.url}/_fake/scripts", {"reply": reply, "times": times, "path": path})

    def reset(self) -> None:
        http_post_json(f"{self.url}/_fake/reset", {})


def run_agent(env: dict[str, str], expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
    """The example agent under opentelemetry-instrument, unchanged; it exits before this returns, so the
    SDK has flushed its spans and metrics (shutdown at exit)."""
    result = subprocess.run(
        [str(INSTRUMENT), sys.executable, "-m", "support_agent"],
        cwd=EXAMPLES,
        env={**base_env(), **AGENT_ENV, **env},
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT,
        check=False,
    )
    if expect_ok:
        assert result.returncode == 0, result.stderr[-3000:]
    else:
        assert result.returncode != 0, "the run was expected to fail"
    return result


@contextmanager
def start_jaeger(workdir: Path) -> Iterator[Jaeger]:
    """Jaeger v2 with collector-config/jaeger.yaml (in-memory store) on free loopback ports."""
    executable = binary("jaeger")
    ports = {name: free_port() for name in ("grpc", "http", "ui", "query", "health")}
    env = {
        **base_env(),
        "AGENTOPS_JAEGER_OTLP_GRPC": f"127.0.0.1:{ports['grpc']}",
        "AGENTOPS_JAEGER_OTLP_HTTP": f"127.0.0.1:{ports['http']}",
        "AGENTOPS_JAEGER_UI": f"127.0.0.1:{ports['ui']}",
        "AGENTOPS_JAEGER_QUERY_GRPC": f"127.0.0.1:{ports['query']}",
        "AGENTOPS_JAEGER_HEALTH": f"127.0.0.1:{ports['health']}",
    }
    argv = [str(executable), "--config", str(CONFIG / "jaeger.yaml")]
    process = Process("jaeger", argv, env, workdir / "jaeger.log")
    try:
        process.start()
        jaeger = Jaeger(
            process,
            otlp_grpc=f"127.0.0.1:{ports['grpc']}",
            otlp_http=f"127.0.0.1:{ports['http']}",
            ui=f"http://127.0.0.1:{ports['ui']}",
        )

        def ready() -> bool:
            if not process.alive():
                pytest.fail(f"Jaeger exited at start-up\n{process.tail()}")
            health, _ = http_get(f"http://127.0.0.1:{ports['health']}/status", timeout=1)
            services, _ = http_get(f"{jaeger.ui}/api/services", timeout=1)
            return health == 200 and services == 200

        wait_for("Jaeger to be ready", ready, START_TIMEOUT, process.tail)
        yield jaeger
    finally:
        process.stop()


@contextmanager
def start_fake_provider(workdir: Path) -> Iterator[FakeProvider]:
    """`python -m otel_agentops.fake_provider --port 0` in its own process, as a user would start it."""
    log = workdir / "fake-provider.log"
    argv = [sys.executable, "-u", "-m", "otel_agentops.fake_provider", "--port", "0"]
    process = Process("fake provider", argv, base_env(), log)
    try:
        process.start()

        def url() -> str | None:
            if not process.alive():
                pytest.fail(f"the fake provider exited at start-up\n{process.tail()}")
            for line in log.read_text(errors="replace").splitlines():
                if line.startswith("fake provider listening on "):
                    return line.rsplit(" ", 1)[1]
            return None

        base = wait_for("the fake provider's address", url, START_TIMEOUT, process.tail)
        wait_for(
            "the fake provider", lambda: http_get(f"{base}/_fake/health", timeout=1)[0] == 200, START_TIMEOUT
        )
        yield FakeProvider(process, base)
    finally:
        process.stop()


@dataclass
class Collector:
    process: Process
    otlp_grpc: str
    otlp_http: str
    prometheus: str  # the prometheus exporter's /metrics
    telemetry: str  # the Collector's own /metrics

    def scrape(self, url: str | None = None) -> str:
        status, body = http_get(url or self.prometheus)
        if status != 200:
            raise AssertionError(f"{url or self.prometheus} answered {status}")
        return body


def validate_collector_config(
    config: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary("otelcol")), "validate", "--config", str(config)],
        env={**base_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@contextmanager
def start_collector(workdir: Path, config: Path, settings: dict[str, str]) -> Iterator[Collector]:
    """The Collector built from collector-config/builder-config.yaml, on free loopback ports; `settings`
    are the config's AGENTOPS_* variables (its addresses are filled in here). The config is validated
    with the Collector's `validate` command first."""
    executable = binary("otelcol")
    ports = {name: free_port() for name in ("grpc", "http", "prometheus", "telemetry")}
    env = {
        **base_env(),
        "AGENTOPS_COLLECTOR_OTLP_GRPC": f"127.0.0.1:{ports['grpc']}",
        "AGENTOPS_COLLECTOR_OTLP_HTTP": f"127.0.0.1:{ports['http']}",
        "AGENTOPS_COLLECTOR_PROMETHEUS": f"127.0.0.1:{ports['prometheus']}",
        "AGENTOPS_COLLECTOR_TELEMETRY_HOST": "127.0.0.1",
        "AGENTOPS_COLLECTOR_TELEMETRY_PORT": str(ports["telemetry"]),
        **settings,
    }
    checked = validate_collector_config(config, env)
    assert checked.returncode == 0, f"{config.name} does not validate:\n{checked.stdout}{checked.stderr}"
    process = Process("collector", [str(executable), "--config", str(config)], env, workdir / "otelcol.log")
    try:
        process.start()
        collector = Collector(
            process,
            otlp_grpc=f"127.0.0.1:{ports['grpc']}",
            otlp_http=f"127.0.0.1:{ports['http']}",
            prometheus=f"http://127.0.0.1:{ports['prometheus']}/metrics",
            telemetry=f"http://127.0.0.1:{ports['telemetry']}/metrics",
        )

        def ready() -> bool:
            if not process.alive():
                pytest.fail(f"the Collector exited at start-up\n{process.tail()}")
            for port in (ports["grpc"], ports["http"]):
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
            return (
                http_get(collector.prometheus, timeout=1)[0] == 200
                and http_get(collector.telemetry, timeout=1)[0] == 200
            )

        wait_for("the Collector to be ready", ready, START_TIMEOUT, process.tail)
        yield collector
    finally:
        process.stop()
