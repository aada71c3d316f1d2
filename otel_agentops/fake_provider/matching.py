"""A thread-safe FIFO of things (faults, scripted replies) that apply to the next matching requests."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class _Entry(Generic[T]):
    item: T
    remaining: int | None
    model: str | None
    path: str | None

    def matches(self, model: str | None, path: str) -> bool:
        return (self.model is None or self.model == model) and (self.path is None or self.path == path)


class MatchQueue(Generic[T]):
    """Entries are tried oldest first; the first whose filters match is used and its count decremented."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[_Entry[T]] = []

    def add(
        self, item: T, *, times: int | None = 1, model: str | None = None, path: str | None = None
    ) -> None:
        """Queue `item` for the next `times` matching requests (None: every matching request, forever)."""
        if times is not None and times < 1:
            raise ValueError(f"times must be at least 1 or None, got {times}")
        with self._lock:
            self._entries.append(_Entry(item, times, model, path))

    def take(self, *, model: str | None, path: str) -> T | None:
        with self._lock:
            for index, entry in enumerate(self._entries):
                if not entry.matches(model, path):
                    continue
                if entry.remaining is not None:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        del self._entries[index]
                return entry.item
        return None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
