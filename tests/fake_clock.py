"""The one fake clock: time that moves only when a test, or the code under test, moves it.

Tests inject `FakeClock.time` and `FakeClock.sleep` where the code takes a clock and a
sleeper, so nothing waits on real time and nothing depends on the date or a busy machine.
Code that reads the event loop's own clock runs under `run_virtual` instead.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

# Only guards against a hang: nothing is timed by it.
HANG_GUARD_S = 30.0


class FakeClock:
    """`time()` returns `now`, which `advance()` moves; what `sleep()` does depends on the mode.

    With `sleep_advances=True` a sleep moves the clock by itself and returns at once: for code
    run to the end, whose waits are read back from `sleeps` afterwards. Otherwise a sleep
    returns only once `advance()` has moved the clock far enough: for a background task the
    test steps through its waits, reading each with `next_sleep()`.
    """

    def __init__(self, now: float = 1_750_000_000.0, *, sleep_advances: bool = False) -> None:
        self.now = now
        self.sleep_advances = sleep_advances
        self.sleeps: list[float] = []
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._asked: asyncio.Queue[float] = asyncio.Queue()

    def time(self) -> float:
        """The current fake time, in seconds."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Record `seconds`, then wait for them to pass on this clock."""
        self.sleeps.append(seconds)
        self._asked.put_nowait(seconds)
        if self.sleep_advances:
            self.advance(seconds)
            # Still yield, as a real sleep would, so other tasks get their turn.
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
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


class _JumpingSelector(selectors.DefaultSelector):
    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # The loop asks to block until its next timer: move the clock there instead.
        if timeout is not None and timeout > 0:
            self.clock.advance(timeout)
        return super().select(0)


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose `time()` is a FakeClock that jumps to the next timer."""

    def __init__(self, clock: FakeClock) -> None:
        self._fake_clock = clock
        super().__init__(_JumpingSelector(clock))

    def time(self) -> float:
        return self._fake_clock.time()


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on a fresh loop whose clock starts at 0 and advances only when every task
    is waiting on a timer, so what a test measures with `loop.time()` is exactly what the
    code waited for, however busy the machine."""
    loop = _VirtualTimeLoop(FakeClock(0.0))
    try:
        return loop.run_until_complete(main)
    finally:
        loop.close()
