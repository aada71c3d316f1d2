"""One replica of an app sharing policy state through Redis (OTEL_AGENTOPS_STATE_URL in its environment).

    python shared_state_worker.py BASE_URL THREADS CALLS_PER_THREAD [FAULT_HEADER]

Instruments openai, builds its clients, prints ``ready`` and waits for a line on stdin, so that the test can
start every process's calls at once; then each thread makes its calls (real openai SDK, no SDK retries) and
the process prints one JSON line: how many calls ended how (``ok`` or the exception's class name).
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter

import otel_agentops


def main() -> int:
    base_url, threads, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    headers = {"x-fake-fault": sys.argv[4]} if len(sys.argv) > 4 else {}
    otel_agentops.instrument(providers=["agentops_openai"])
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        start.wait()
        for _ in range(calls):
            try:
                client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], extra_headers=headers
                )
                outcome = "ok"
            except Exception as error:
                outcome = type(error).__name__
            with lock:
                outcomes[outcome] += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    print("ready", flush=True)
    sys.stdin.readline()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    print(json.dumps(dict(outcomes)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
