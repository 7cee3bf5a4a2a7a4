"""An account-wide call budget: at most `rate` calls in any window of `period + margin`.

Every upstream attempt asks `admit(account)` first. A caller goes at once while the last
`rate` calls are older than `period + margin`; otherwise it queues, first come first served,
unless its turn is more than `max_wait` seconds away, in which case it is refused with Busy
and books nothing. The margin absorbs scheduling and network jitter, so the server never sees
more than `rate` calls in any rolling `period`.

Time is the running event loop's clock, so tests drive it with a virtual-time loop.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass

from bot.preview.errors import Busy

# Event loops run timers up to their clock resolution early; such a timer is on time.
EARLY_S = 1e-6


@dataclass(frozen=True, slots=True)
class LimiterSettings:
    """Budget per account: `rate` calls per `period` seconds, kept `margin` seconds apart."""

    rate: int = 5
    period: float = 1.0
    margin: float = 0.1
    max_wait: float = 10.0
    cooldown: float = 1.0


class LocalLimiter:
    """The in-process limiter, an AttemptGate: one FIFO queue and one window per account."""

    def __init__(self, settings: LimiterSettings | None = None) -> None:
        self.settings = settings or LimiterSettings()
        self._accounts: dict[str, _Account] = {}

    def _account(self, account: str) -> _Account:
        state = self._accounts.get(account)
        if state is None:
            state = self._accounts[account] = _Account(self.settings)
        return state

    async def admit(self, account: str, within: float = math.inf) -> None:
        """Wait for a slot for `account`, first come first served, or raise Busy at once.

        Busy when the slot is more than `max_wait` or `within` seconds away.
        """
        await self._account(account).admit(min(self.settings.max_wait, within))

    async def throttled(self, account: str, retry_after: float | None) -> None:
        """Hold every caller of `account` back for `cooldown` or `retry_after`, if longer."""
        self.pause(account, max(self.settings.cooldown, retry_after or 0.0))

    def pause(self, account: str, seconds: float) -> None:
        """Grant `account` nothing for the next `seconds` (a longer pause already set stays)."""
        self._account(account).cool_down(seconds)

    def horizon(self, account: str) -> float:
        """The loop time from which `account` has no local grant pending or recent.

        That is, a period plus margin after its last grant, queued waiters included.
        """
        state = self._account(account)
        loop = asyncio.get_running_loop()
        if state.waiters:
            return state._turn_of(len(state.waiters) - 1, loop.time()) + state.spacing
        if state.grants:
            return state.grants[-1] + state.spacing
        return -math.inf

    def queued(self, account: str) -> int:
        """How many callers of `account` are waiting."""
        return len(self._account(account).waiters)


class _Account:
    def __init__(self, settings: LimiterSettings) -> None:
        self.settings = settings
        self.spacing = settings.period + settings.margin
        # Times of the last `rate` grants: a new grant must come `spacing` after the oldest.
        self.grants: deque[float] = deque(maxlen=settings.rate)
        self.waiters: deque[asyncio.Future[float]] = deque()
        self.cooldown_until = float("-inf")
        self.timer: asyncio.TimerHandle | None = None

    async def admit(self, max_wait: float) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        turn = self._turn_of(len(self.waiters), now)
        if not self.waiters and turn <= now:
            self.grants.append(now)
            return
        if turn - now > max_wait:
            raise Busy(turn - now)
        waiter: asyncio.Future[float] = loop.create_future()
        self.waiters.append(waiter)
        self._schedule(loop)
        try:
            await waiter
        except asyncio.CancelledError:
            self._withdraw(waiter, loop)
            raise

    def cool_down(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.cooldown_until = max(self.cooldown_until, loop.time() + seconds)
        self._schedule(loop)

    def _turn_of(self, position: int, now: float) -> float:
        """When the waiter at `position` in the queue (0 = head) would be granted."""
        grants = list(self.grants)
        turn = now
        for _ in range(position + 1):
            turn = max(now, self.cooldown_until)
            if len(grants) >= self.settings.rate:
                turn = max(turn, grants[-self.settings.rate] + self.spacing)
            grants.append(turn)
        return turn

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.waiters:
            self.timer = loop.call_at(self._turn_of(0, loop.time()), self._release, loop)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        now = loop.time()
        while self.waiters:
            turn = self._turn_of(0, now)
            if turn > now + EARLY_S:
                break
            waiter = self.waiters.popleft()
            if not waiter.cancelled():
                granted = max(now, turn)
                self.grants.append(granted)
                waiter.set_result(granted)
        self._schedule(loop)

    def _withdraw(self, waiter: asyncio.Future[float], loop: asyncio.AbstractEventLoop) -> None:
        if waiter in self.waiters:
            self.waiters.remove(waiter)
        elif not waiter.cancelled():
            # Granted, then cancelled before it could call: the slot was never used.
            self.grants.remove(waiter.result())
        self._schedule(loop)
