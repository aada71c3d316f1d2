"""A real redis-server for the tests: a free loopback port, a temp dir, no persistence; stop and restart it.

Missing redis-server skips the tests that need it, except in CI (CI=true), where it fails them: `make test`
installs it (`make redis-server`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or (
    "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
)


def require_redis_server() -> str:
    if REDIS_SERVER is None:
        message = "redis-server is not installed (make redis-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_SERVER


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path, password: str | None = None) -> None:
        self.binary = require_redis_server()
        self.directory = directory
        self.password = password
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        args = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        args += ["--dir", str(self.directory)]
        if self.password:
            args += ["--requirepass", self.password]
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(args, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client().ping()
                return self
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.directory / "redis.log").read_text()) from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def now(self) -> float:
        """The server's clock (``TIME``), the one the shared policies run on."""
        seconds, microseconds = self.client().time()
        return seconds + microseconds / 1_000_000

    def client(self):  # redis.Redis, imported lazily like the production code does
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5)
