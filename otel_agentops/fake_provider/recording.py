"""The record of provider requests the fake server received, for tests to assert on."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


class Headers(Mapping[str, str]):
    """Read-only, case-insensitive header mapping that keeps the spelling the client sent."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for name, value in items:
            # Repeated headers are joined the way HTTP allows folding them.
            previous = self._items.get(name.lower())
            self._items[name.lower()] = (name, value if previous is None else f"{previous[1]}, {value}")

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __repr__(self) -> str:
        return f"Headers({dict(self)!r})"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: Headers
    # The parsed JSON body; None when the body was empty or not JSON (`raw_body` keeps the bytes).
    body: Any
    raw_body: bytes
    # time.monotonic() when the request was fully read, to measure client-side pacing (retries, rate limits).
    time: float
    sequence: int
    path_params: Mapping[str, str] = field(default_factory=dict)

    @property
    def model(self) -> str | None:
        """The requested model, from the body or, for providers that put it in the URL, the path."""
        if isinstance(self.body, dict) and isinstance(self.body.get("model"), str):
            return str(self.body["model"])
        return self.path_params.get("model")

    def to_json(self) -> dict[str, Any]:
        return {
            "sequence": self.sequence,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body,
            "time": self.time,
            "model": self.model,
        }


class RequestLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []

    def append(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self._requests if path is None or r.path == path)

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
