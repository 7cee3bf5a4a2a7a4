"""An account-wide call budget: at most `rate` calls in any window of `period + margin`.

Every upstream attempt asks `admit(account)` first. A caller goes at once while the last
`rate` calls are older than `period + margin`; otherwise it queues, first come first served,
unless its turn is more than `max_wait` seconds away, in which case it is refused with BusyError
and books nothing. The margin absorbs scheduling and network jitter, so the server never sees
more than `rate` calls in any rolling `period`.

A throttling answer pauses the account for at most `max_cooldown` seconds. When the pause
ends, one call (the probe) goes alone; the queue follows once the probe is answered with
anything but throttling, while throttling again renews the pause. When a pause begins, every
queued caller whose turn now falls after its own deadline is refused with BusyError at once.

Time is the running event loop's clock, so tests drive it with a virtual-time event loop.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.preview.errors import BusyError

# Event loops run timers up to their clock resolution early; such a timer is on time.
EARLY_S = 1e-6


@dataclass(frozen=True, slots=True)
class LimiterSettings:
    """Budget per account: `rate` calls per `period` seconds, kept `margin` seconds apart.

    A throttling answer pauses the account for `cooldown` seconds, or the server's
    retry-after if longer, but never for more than `max_cooldown`.
    """

    rate: int = 5
    period: float = 1.0
    margin: float = 0.1
    max_wait: float = 10.0
    cooldown: float = 1.0
    max_cooldown: float = 30.0

    def send_by(self, slot: float) -> float:
        """The latest time a call granted `slot` may go out: half the margin later.

        The other half is left for the network, so `rate + 1` calls never reach CAMS within
        one period. Without a margin nothing is allowed for jitter, and nothing is checked.
        """
        return slot + self.margin / 2 if self.margin > 0 else math.inf

    def pause_after(self, retry_after: float | None) -> float:
        """How long a throttling answer with `retry_after` pauses the account."""
        return self.capped(max(self.cooldown, retry_after or 0.0))

    def capped(self, seconds: float) -> float:
        """`seconds`, or `max_cooldown` if longer: nobody is told to wait beyond it."""
        return min(seconds, self.max_cooldown)

    def busy(self, wait: float) -> BusyError:
        """The refusal of a caller whose turn is `wait` seconds away."""
        return BusyError(self.capped(wait))


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

    async def admit(self, account: str, within: float = math.inf) -> float:
        """Wait for a slot for `account`, first come first served, or raise BusyError.

        BusyError at once when the slot is more than `max_wait` or `within` seconds away, or later,
        as soon as a pause or a probe means the slot can no longer come in time.
        """
        slot = await self._account(account).admit(min(self.settings.max_wait, within))
        return self.settings.send_by(slot)

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        """Pause `account` for `cooldown` or `retry_after`, if longer, up to `max_cooldown`.

        Returns `retry_after` capped at `max_cooldown` (None stays None).
        """
        self._account(account).cool_down(self.settings.pause_after(retry_after), probe=True)
        return None if retry_after is None else self.settings.capped(retry_after)

    def settled(self, account: str) -> None:
        """The calling task's attempt was answered with anything but throttling.

        If it was the probe after a pause, the queue behind it may go.
        """
        self._account(account).settled()

    async def missed(self, account: str) -> None:
        """The calling task's slot passed before its call went out; if it was the probe,
        the next grant probes instead (the slot stays spent: the budget is never widened)."""
        self._account(account).missed()

    def pause(self, account: str, seconds: float) -> None:
        """Grant `account` nothing for the next `seconds` (a longer pause already set stays)."""
        self._account(account).cool_down(seconds, probe=False)

    def horizon(self, account: str) -> float:
        """The loop time from which `account` has no local grant pending or recent.

        That is, a period plus margin after its last grant, queued waiters included.
        """
        state = self._account(account)
        loop = asyncio.get_running_loop()
        if state.waiters:
            return state.turn_of(len(state.waiters) - 1, loop.time()) + state.spacing
        if state.grants:
            return state.grants[-1] + state.spacing
        return -math.inf

    def queued(self, account: str) -> int:
        """How many callers of `account` are waiting."""
        return len(self._account(account).waiters)


@dataclass(frozen=True, slots=True)
class _Waiter:
    future: asyncio.Future[float]
    # The loop time after which a grant is of no use to the caller.
    deadline: float


class _Account:
    def __init__(self, settings: LimiterSettings) -> None:
        self.settings = settings
        self.spacing = settings.period + settings.margin
        # A probe that has not been answered by then is taken as lost, and another goes.
        self.probe_timeout = max(settings.max_wait, self.spacing)
        # Times of the last `rate` grants: a new grant must come `spacing` after the oldest.
        self.grants: deque[float] = deque(maxlen=settings.rate)
        self.waiters: deque[_Waiter] = deque()
        self.cooldown_until = -math.inf
        self.timer: asyncio.TimerHandle | None = None
        # Set by a throttling answer: the next grant is the probe.
        self.probe_due = False
        # While a probe is out, nobody else is granted, until it answers or this time passes.
        self.probe_until: float | None = None
        self.probe_waiter: _Waiter | None = None
        self.probe_task: asyncio.Task[Any] | None = None

    async def admit(self, max_wait: float) -> float:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._expire_probe(now)
        turn = self.turn_of(len(self.waiters), now)
        if not self.waiters and turn <= now and self.probe_until is None:
            if self._grant(now):
                self.probe_task = asyncio.current_task()
            return now
        # A turn exactly max_wait away is served: the clock's float arithmetic must not
        # decide it (as everywhere here, within EARLY_S).
        if turn - now > max_wait + EARLY_S:
            raise self.settings.busy(turn - now)
        waiter = _Waiter(loop.create_future(), now + max_wait)
        self.waiters.append(waiter)
        self._schedule(loop)
        try:
            granted = await waiter.future
        except asyncio.CancelledError:
            self._withdraw(waiter, loop)
            raise
        if waiter is self.probe_waiter:
            self.probe_task = asyncio.current_task()
        return granted

    def cool_down(self, seconds: float, *, probe: bool) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        self.cooldown_until = max(self.cooldown_until, now + seconds)
        if probe:
            # Throttled again (by the probe or a call already under way): a new probe follows.
            self._end_probe()
            self.probe_due = True
        self._refuse_late(now)
        self._schedule(loop)

    def settled(self) -> None:
        if self.probe_task is not None and asyncio.current_task() is self.probe_task:
            self._end_probe()
            loop = asyncio.get_running_loop()
            # The hold may have pushed some turns past their callers' deadlines.
            self._refuse_late(loop.time())
            self._schedule(loop)

    def missed(self) -> None:
        if self.probe_task is not None and asyncio.current_task() is self.probe_task:
            self._end_probe()
            self.probe_due = True
            self._schedule(asyncio.get_running_loop())

    def turn_of(self, position: int, now: float) -> float:
        """When the waiter at `position` in the queue (0 = head) would be granted."""
        turns = self._turns(now)
        for _ in range(position):
            next(turns)
        return next(turns)

    def _turns(self, now: float) -> Iterator[float]:
        """The successive turns from now on, as if every queued caller took its slot."""
        grants = list(self.grants)
        while True:
            turn = max(now, self.cooldown_until)
            if self.settings.rate < 1:
                # A replica's share of a budget smaller than the replicas: nothing, ever.
                turn = math.inf
            elif len(grants) >= self.settings.rate:
                turn = max(turn, grants[-self.settings.rate] + self.spacing)
            grants.append(turn)
            yield turn

    def _grant(self, at: float) -> bool:
        """Record a grant at `at`; True if it is the probe after a pause."""
        self.grants.append(at)
        if not self.probe_due:
            return False
        self.probe_due = False
        self.probe_until = at + self.probe_timeout
        return True

    def _end_probe(self) -> None:
        self.probe_until = None
        self.probe_waiter = None
        self.probe_task = None

    def _expire_probe(self, now: float) -> None:
        if self.probe_until is not None and now >= self.probe_until - EARLY_S:
            self._end_probe()
            self.probe_due = True

    def _refuse_late(self, now: float) -> None:
        """Refuse at once every waiter whose turn now falls after its deadline."""
        if not self.waiters:
            return
        turns = self._turns(now)
        turn = next(turns)
        kept: deque[_Waiter] = deque()
        for waiter in self.waiters:
            if waiter.future.done():
                continue
            held = self.probe_until is not None and now >= waiter.deadline - EARLY_S
            if held or turn > waiter.deadline + EARLY_S:
                waiter.future.set_exception(self.settings.busy(turn - now))
                continue
            kept.append(waiter)
            turn = next(turns)
        self.waiters = kept

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.waiters:
            return
        if self.probe_until is None:
            at = self.turn_of(0, loop.time())
        else:
            # Waiting for the probe: wake when it is lost or when a waiter's deadline comes.
            at = min(self.probe_until, *(waiter.deadline for waiter in self.waiters))
        self.timer = loop.call_at(at, self._release, loop)

    def _release(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        now = loop.time()
        self._expire_probe(now)
        if self.probe_until is not None:
            self._refuse_late(now)
        while self.waiters and self.probe_until is None:
            turn = self.turn_of(0, now)
            if turn > now + EARLY_S:
                break
            waiter = self.waiters.popleft()
            if waiter.future.cancelled():
                continue
            granted = max(now, turn)
            if self._grant(granted):
                self.probe_waiter = waiter
            waiter.future.set_result(granted)
        self._schedule(loop)

    def _withdraw(self, waiter: _Waiter, loop: asyncio.AbstractEventLoop) -> None:
        if waiter in self.waiters:
            self.waiters.remove(waiter)
        elif not waiter.future.cancelled() and waiter.future.exception() is None:
            # Granted, then cancelled before it could call: the slot was never used.
            granted = waiter.future.result()
            if granted in self.grants:
                self.grants.remove(granted)
            if waiter is self.probe_waiter:
                self._end_probe()
                self.probe_due = True
        self._schedule(loop)
