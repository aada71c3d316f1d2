"""Time for the policies, in one replaceable place so tests run backoffs and waits without sleeping."""

from __future__ import annotations

import asyncio
import time


class Clock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    async def asleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


CLOCK = Clock()
