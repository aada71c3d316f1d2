"""The peer instrumentations, each in its own virtual environment under a cache directory outside the repo.

``${XDG_CACHE_HOME:-~/.cache}/otel-agentops/bench-venvs/<peer>-<attempt>-openai<version>-sdk<version>-py<X.Y>``:
the same openai and opentelemetry-sdk versions as our .venv, so only the instrumentation differs. Made
once (a marker file records what was installed); a peer whose first attempt cannot be installed or
imported next to that openai gets the next attempt (other version constraints), and every failure is
recorded with the exact error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MARKER = ".bench-ok.json"
IMPORT_FAILED = ".bench-import-failed.json"


@dataclass(frozen=True)
class Attempt:
    slug: str  # part of the venv's directory name
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class Peer:
    name: str
    module: str  # what must import: ``from <module> import OpenAIInstrumentor``
    attempts: tuple[Attempt, ...]
    note: str = ""


PEERS: dict[str, Peer] = {
    "official": Peer(
        "official",
        "opentelemetry.instrumentation.genai.openai",
        (
            Attempt("genai-openai-1.3b0", ("opentelemetry-instrumentation-genai-openai==1.3b0",)),
            # should 1.3b0 ever stop importing beside a newer util-genai: its own release's util-genai
            Attempt(
                "genai-openai-1.3b0-util-1.3b0",
                ("opentelemetry-instrumentation-genai-openai==1.3b0", "opentelemetry-util-genai==1.3b0"),
            ),
        ),
        "opentelemetry-instrumentation-genai-openai (the official GenAI instrumentation)",
    ),
    "openllmetry": Peer(
        "openllmetry",
        "opentelemetry.instrumentation.openai",
        (Attempt("0.62", ("opentelemetry-instrumentation-openai>=0.62,<0.63",)),),
        "OpenLLMetry's opentelemetry-instrumentation-openai",
    ),
    # The older official package: known not to import with openai 3.x; probed so the report shows why
    # and which constraints make it work, benchmarked only when asked for (--configs official-v2).
    "official-v2": Peer(
        "official-v2",
        "opentelemetry.instrumentation.openai_v2",
        (
            Attempt("v2-latest", ("opentelemetry-instrumentation-openai-v2",)),
            Attempt("v2-latest-httpx", ("opentelemetry-instrumentation-openai-v2", "httpx")),
            Attempt(
                "v2-latest-httpx-util-1.1b0",
                ("opentelemetry-instrumentation-openai-v2", "httpx", "opentelemetry-util-genai==1.1b0"),
            ),
        ),
        "opentelemetry-instrumentation-openai-v2 (the older official instrumentation)",
    ),
}


@dataclass
class PeerEnv:
    name: str
    python: str | None = None  # None: no attempt worked
    versions: dict[str, str] = field(default_factory=dict)
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"python": self.python, "versions": self.versions, "attempts": self.attempts}


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "otel-agentops" / "bench-venvs"


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return "\n".join(lines[-count:])


def _run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)


def _import_check(python: str, module: str) -> str | None:
    """None when ``from module import OpenAIInstrumentor`` works, else the exception's last lines."""
    result = _run([python, "-c", f"from {module} import OpenAIInstrumentor"], timeout=120)
    return None if result.returncode == 0 else _last_lines(result.stderr)


def _versions(python: str) -> dict[str, str]:
    result = _run([python, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"], 120)
    try:
        listed = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {}
    wanted = ("openai", "opentelemetry", "httpx", "wrapt")
    return {item["name"]: item["version"] for item in listed if item["name"].lower().startswith(wanted)}


def ensure(
    peer: Peer,
    *,
    openai_version: str,
    sdk_version: str,
    reinstall: bool = False,
    offline: bool = False,
    log: Any = print,
) -> PeerEnv:
    """The first attempt that installs and imports; every attempt tried is recorded in `attempts`.

    `offline`: use only venvs already made (the --quick mode: no installs).
    """
    env = PeerEnv(peer.name)
    py = f"py{sys.version_info.major}.{sys.version_info.minor}"
    for attempt in peer.attempts:
        directory = cache_root() / f"{peer.name}-{attempt.slug}-openai{openai_version}-sdk{sdk_version}-{py}"
        python = str(directory / "bin" / "python")
        record: dict[str, Any] = {"requirements": list(attempt.requirements), "venv": str(directory)}
        env.attempts.append(record)
        marker, failed = directory / MARKER, directory / IMPORT_FAILED
        if reinstall and directory.exists():
            subprocess.run(["rm", "-rf", str(directory)], check=False)
        if failed.exists():  # deterministic: installed fine, does not import; kept until --reinstall-peers
            record.update(json.loads(failed.read_text()))
            record["cached"] = True
            continue
        if marker.exists() and Path(python).exists():
            record.update(json.loads(marker.read_text()))
            record["cached"] = True
            env.python, env.versions = python, record.get("versions", {})
            return env
        if offline:
            record["error"] = "not installed (--quick installs nothing; run the full suite once)"
            continue
        log(f"  peer {peer.name}: installing {' '.join(attempt.requirements)} into {directory}")
        started = time.monotonic()
        subprocess.run(["rm", "-rf", str(directory)], check=False)
        made = _run([sys.executable, "-m", "venv", str(directory)], timeout=300)
        if made.returncode != 0:
            record["error"] = "venv: " + _last_lines(made.stderr)
            continue
        pins = [
            f"openai=={openai_version}",
            f"opentelemetry-sdk=={sdk_version}",
            f"opentelemetry-api=={sdk_version}",
        ]
        pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        installed = _run([*pip, *pins, *attempt.requirements], timeout=900)
        if installed.returncode != 0:
            record["error_with_sdk_pin"] = _last_lines(installed.stderr, 6)
            # The peer may require another SDK: install it with the one it wants (noted in the report).
            installed = _run([*pip, pins[0], "opentelemetry-sdk", *attempt.requirements], timeout=900)
            record["sdk_pinned"] = False
        if installed.returncode != 0:
            record["error"] = "pip install: " + _last_lines(installed.stderr, 6)
            continue
        record["install_s"] = round(time.monotonic() - started, 1)
        error = _import_check(python, peer.module)
        record["versions"] = _versions(python)
        if error is not None:
            record["error"] = f"import {peer.module}: {error}"
            failed.write_text(json.dumps({k: v for k, v in record.items() if k != "venv"}, indent=1))
            continue
        marker.write_text(json.dumps({k: v for k, v in record.items() if k != "venv"}, indent=1))
        env.python, env.versions = python, record["versions"]
        return env
    return env
