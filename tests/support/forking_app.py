"""A pre-forking app for `opentelemetry-instrument`: spans before the fork, in forked workers, and in the
parent while the workers run (so parent and workers export at the same time).

    opentelemetry-instrument python forking_app.py WORKERS TRACES_PER_WORKER

Prints one JSON line: how many traces each process made. Workers are multiprocessing processes started
with the fork method that end normally (``pool.close(); pool.join()``).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import time

from opentelemetry import trace

tracer = trace.get_tracer("forking-app")


def make_trace(name: str, *, error: bool = False) -> None:
    with tracer.start_as_current_span(name), tracer.start_as_current_span(f"{name} step") as step:
        if error:
            step.set_status(trace.Status(trace.StatusCode.ERROR, "failed"))


def worker(traces: int) -> int:
    for number in range(traces):
        make_trace("worker", error=number == 0)
    return os.getpid()


def main() -> int:
    workers, per_worker = int(sys.argv[1]), int(sys.argv[2])
    make_trace("before-fork")
    # Exported now, so the exporter holds an open connection when the workers fork.
    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    stop = threading.Event()
    during = 0

    def parent_load() -> None:
        nonlocal during
        while not stop.is_set():
            make_trace("parent")
            during += 1
            time.sleep(0.002)

    load = threading.Thread(target=parent_load)
    load.start()
    pool = multiprocessing.get_context("fork").Pool(workers)
    pids = pool.map(worker, [per_worker] * workers, chunksize=1)
    pool.close()
    pool.join()
    stop.set()
    load.join()
    print(json.dumps({"before": 1, "parent": during, "worker_pids": len(set(pids))}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
