"""``python -m otel_agentops.fake_provider``: run the fake provider until SIGINT / SIGTERM.

The one line printed on start-up (``fake provider listening on http://127.0.0.1:PORT``) is the contract with
scripts that start it on port 0 and read the URL back.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from otel_agentops.fake_provider.server import FakeProvider


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="otel-agentops-fake-provider", description="Serve a fake LLM provider on a loopback port."
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="loopback address to bind (127.0.0.1, ::1, localhost)"
    )
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    try:
        provider = FakeProvider(host=args.host, port=args.port)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for name in ("SIGINT", "SIGTERM"):
        signal.signal(getattr(signal, name), request_stop)
    with provider:
        print(f"fake provider listening on {provider.base_url}", flush=True)
        # A timed wait keeps the main thread responsive to signals on every platform.
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
