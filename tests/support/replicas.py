"""Replicas of an app as separate processes (tests/apps/shared_state_worker.py), started together."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

WORKER = Path(__file__).parents[1] / "apps" / "shared_state_worker.py"


def start_workers(fake, redis_url, processes, threads, calls, *args, **settings):
    """Start the replicas and wait until each is ready (imports done); `release` lets them all go at once."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    env = {**clean, "OTEL_AGENTOPS_STATE_URL": redis_url, **settings}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), fake.openai_base_url, str(threads), str(calls), *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.stdout.readline().strip() == "ready", worker.stderr.read()
    return workers


def release(workers):
    for worker in workers:
        worker.stdin.write("go\n")
        worker.stdin.flush()
    return workers


def outcomes(workers, timeout=60):
    total: dict[str, int] = {}
    for worker in workers:
        out, err = worker.communicate(timeout=timeout)
        assert worker.returncode == 0, err
        for outcome, count in json.loads(out.strip().splitlines()[-1]).items():
            total[outcome] = total.get(outcome, 0) + count
    return total


def run_workers(fake, redis_url, processes, threads, calls, *args, **settings):
    """Start the replicas, let them go together, and return the outcomes of all their calls."""
    return outcomes(release(start_workers(fake, redis_url, processes, threads, calls, *args, **settings)))
