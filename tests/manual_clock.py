"""A wall clock that moves only when the test moves it, and a sleep that waits for it."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

# Only guards against a hang: nothing is timed by it.
HANG_GUARD_S = 30.0


class ManualClock:
    """`time()` is Unix time that `advance()` moves; `sleep()` returns once it has moved far
    enough. Every duration asked of `sleep()` is queued for `next_sleep()` to read."""

    def __init__(self, now: float = 1_750_000_000.0) -> None:
        self.now = now
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._asked: asyncio.Queue[float] = asyncio.Queue()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        self._asked.put_nowait(seconds)
        await future

    def advance(self, seconds: float) -> None:
        """Move the clock and wake the sleepers whose time has come."""
        self.now += seconds
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    async def next_sleep(self) -> float:
        """The duration of the next `sleep()` call (or of one already made and not yet read)."""
        return await asyncio.wait_for(self._asked.get(), HANG_GUARD_S)


async def eventually(condition: Callable[[], bool]) -> None:
    """Yield to the loop until `condition()` holds; fail rather than hang if it never does."""
    async with asyncio.timeout(HANG_GUARD_S):
        # Polled: what is awaited happens inside a stand-in, which signals nothing.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)
