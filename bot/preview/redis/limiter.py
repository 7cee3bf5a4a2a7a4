"""The account's call budget shared by every replica, booked by a Lua script on Redis's clock.

The script (`lua/admit.lua`) keeps the last `rate` booked slots of an account and books the
next one `period + margin` after the slot `rate` places back, in arrival order at Redis. Each
caller makes one round trip and sleeps once until its slot: first come, first served, with
no polling. The arithmetic, the margin and the max-wait refusal are the local limiter's.

While Redis is unreachable a replica falls back to a LocalLimiter with its share of the
budget, `floor(CAMS_QPS / CAMS_REPLICAS)` calls per second, so that all replicas together
stay within the budget:

- on losing Redis, it first waits until every slot anyone could have booked has passed
  (`max_wait + spacing` after it first noticed the outage);
- on getting Redis back, it puts up a fence: for `max_wait + spacing + retry_after` the shared
  budget is one share, since other replicas may still be spending theirs locally. A Redis
  that restarted and lost its slots puts up the same fence by itself. Its own first shared
  slot comes a spacing after its last local grant, queued ones included.

A throttling answer sets a cooldown on Redis (`lua/cooldown.lua`), cut to `max_cooldown`, and
marks a probe as due. The next slot booked (or the next slept-for slot confirmed) after it is
the probe; every slot booked after the probe comes at least a spacing after it, time for its
answer, and a throttled probe starts the next cooldown. A caller that slept until its slot
confirms it first (`lua/confirm.lua`): a slot inside a cooldown set meanwhile, or before the
probe's answer, is void, and the caller books again within what is left of its own deadline,
or is refused with BusyError. This replica's sleepers confirm at once when it is throttled.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
from importlib import resources
from typing import Any

from redis.asyncio import Redis

from bot.preview.limiter import EARLY_S, LimiterSettings, LocalLimiter
from bot.preview.redis.circuit_breaker import RedisCircuitBreaker, RedisUnavailableError

MICROS = 1_000_000
KEY_PREFIX = "flowpreview:budget"
KEY_PARTS = ("slots", "cooldown", "fence", "marker", "probe")
SLOT_VOID, SLOT_PROBE = 0, 2
# The probe key's value while the next slot booked or confirmed is to be the probe.
PROBE_DUE = "due"


def _script(name: str) -> str:
    return resources.files("bot.preview.redis").joinpath("lua", name).read_text(encoding="utf-8")


def replica_share(settings: LimiterSettings, replicas: int) -> LimiterSettings:
    """One replica's budget when it cannot coordinate: the whole budget split evenly."""
    return dataclasses.replace(settings, rate=settings.rate // replicas)


@dataclasses.dataclass(frozen=True, slots=True)
class _Booking:
    granted: bool
    wait: float
    # The slot on Redis's clock, in microseconds, and whether it is the probe after a pause.
    slot: int
    probe: bool


class SharedLimiter:
    """The AttemptGate of a replica among `replicas`, on Redis through `breaker`."""

    def __init__(
        self, breaker: RedisCircuitBreaker, settings: LimiterSettings, replicas: int
    ) -> None:
        self.settings = settings
        self.share = replica_share(settings, replicas)
        self._breaker = breaker
        self._spacing = settings.period + settings.margin
        self._fence_s = settings.max_wait + self._spacing + breaker.retry_after
        self._fallback = LocalLimiter(self.share)
        self._admit = breaker.client.register_script(_script("admit.lua"))
        self._cooldown = breaker.client.register_script(_script("cooldown.lua"))
        self._confirm = breaker.client.register_script(_script("confirm.lua"))
        self._fenced_at: dict[str, int] = {}
        # This replica's callers sleeping until their slots, woken when it is throttled.
        self._sleepers: dict[str, set[asyncio.Future[None]]] = {}
        # Tasks whose slot is their account's probe, until they report how it went.
        self._probes: dict[asyncio.Task[Any] | None, str] = {}

    async def admit(self, account: str, within: float = math.inf) -> float:
        """Sleep until `account`'s booked slot, or raise BusyError; locally while Redis is out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self.settings.max_wait, within)
        while True:
            max_wait = max(0.0, deadline - loop.time())
            # After an outage, this replica's own local grants must be over before its first
            # shared slot, or it would spend its local share and the shared one at once.
            not_before = max(0.0, self._fallback.horizon(account) - loop.time())
            try:
                booking = await self._book(account, max_wait, not_before)
            except RedisUnavailableError:
                return await self._admit_locally(account, max_wait)
            if not booking.granted:
                raise self.settings.busy(booking.wait)
            # The slot on this host's clock, measured from the answer: at most a Redis round
            # trip later than on Redis's, which the other half of the margin absorbs.
            send_by = self.settings.send_by(loop.time() + booking.wait)
            if booking.wait > 0:
                held = await self._slot_holds(account, booking)
                if held is None:
                    continue
                booking = held
            if booking.probe:
                self._probes[asyncio.current_task()] = account
            return send_by

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        """Pause `account` on every replica (and locally, should Redis be out).

        Returns `retry_after` capped at `max_cooldown` (None stays None).
        """
        await self._fallback.throttled(account, retry_after)
        with contextlib.suppress(RedisUnavailableError):
            await self._breaker.call(
                lambda redis: self._cooldown(
                    keys=[budget_key(account, "cooldown"), budget_key(account, "probe")],
                    args=[
                        round(self.settings.pause_after(retry_after) * MICROS),
                        round(self.settings.max_cooldown * MICROS),
                    ],
                    client=redis,
                )
            )
        self._probes.pop(asyncio.current_task(), None)
        for sleeper in self._sleepers.get(account, ()):
            if not sleeper.done():
                sleeper.set_result(None)
        return None if retry_after is None else self.settings.capped(retry_after)

    def settled(self, account: str) -> None:
        """The calling task's attempt was not throttled; only the local fallback has probes
        to release: on Redis, slots after a probe wait a fixed time for its answer."""
        self._probes.pop(asyncio.current_task(), None)
        self._fallback.settled(account)

    async def missed(self, account: str) -> None:
        """The calling task's slot passed unused; if it was the probe, a probe is due again.

        Otherwise every replica's queue would follow after the probe's hold, unprobed.
        """
        await self._fallback.missed(account)
        if self._probes.pop(asyncio.current_task(), None) != account:
            return
        with contextlib.suppress(RedisUnavailableError):
            await self._breaker.call(
                lambda redis: redis.set(
                    budget_key(account, "probe"),
                    PROBE_DUE,
                    px=round(self.settings.max_cooldown * 1000),
                )
            )

    async def _book(self, account: str, max_wait: float, not_before: float) -> _Booking:
        return await self._breaker.call(
            lambda redis: self._book_on(redis, account, max_wait, not_before)
        )

    async def _book_on(
        self, redis: Redis, account: str, max_wait: float, not_before: float
    ) -> _Booking:
        if self._fenced_at.get(account, 0) != self._breaker.recoveries:
            # Back from an outage: other replicas may still be spending their share locally.
            await redis.set(budget_key(account, "fence"), 1, px=round(self._fence_s * 1000))
            self._fenced_at[account] = self._breaker.recoveries
        answer: Any = await self._admit(
            keys=[budget_key(account, part) for part in KEY_PARTS],
            args=[
                self.settings.rate,
                self.share.rate,
                round(self._spacing * MICROS),
                round(max_wait * MICROS),
                round(self._fence_s * 1000),
                round(not_before * MICROS),
                round(self.settings.max_cooldown * MICROS),
                round(self._spacing * MICROS),
            ],
            client=redis,
        )
        return _Booking(
            granted=bool(int(answer[0])),
            wait=int(answer[1]) / MICROS,
            slot=int(answer[2]),
            probe=bool(int(answer[3])),
        )

    async def _slot_holds(self, account: str, booking: _Booking) -> _Booking | None:
        """Sleep until the booked slot; None if a cooldown or a probe has voided it since.

        The booking comes back marked as the probe if confirming made it one.
        """
        loop = asyncio.get_running_loop()
        slot_at = loop.time() + booking.wait
        while True:
            await self._sleep(account, slot_at - loop.time())
            try:
                verdict = await self._confirm_slot(account, booking.slot, booking.probe)
            except RedisUnavailableError:
                # As during any outage: a slot booked before it may still be used.
                return booking
            if verdict == SLOT_VOID:
                return None
            if verdict == SLOT_PROBE:
                booking = dataclasses.replace(booking, probe=True)
            if loop.time() >= slot_at - EARLY_S:
                return booking

    async def _confirm_slot(self, account: str, slot: int, probe: bool) -> int:
        verdict: Any = await self._breaker.call(
            lambda redis: self._confirm(
                keys=[budget_key(account, "cooldown"), budget_key(account, "probe")],
                args=[
                    slot,
                    int(probe),
                    round(self.settings.max_cooldown * MICROS),
                    round(self._spacing * MICROS),
                ],
                client=redis,
            )
        )
        return int(verdict)

    async def _sleep(self, account: str, seconds: float) -> None:
        """Sleep for `seconds`, or less if this replica is throttled meanwhile."""
        if seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, _wake, woken)
        sleepers = self._sleepers.setdefault(account, set())
        sleepers.add(woken)
        try:
            await woken
        finally:
            timer.cancel()
            sleepers.discard(woken)

    async def _admit_locally(self, account: str, max_wait: float) -> float:
        # Any replica may still use slots booked on Redis up to the moment it went away.
        booked_for = self.settings.max_wait + self._spacing - self._breaker.seconds_since_lost()
        if booked_for > 0:
            self._fallback.pause(account, booked_for)
        if self.share.rate < 1:
            raise self.settings.busy(self._breaker.retry_after)
        return await self._fallback.admit(account, max_wait)


def _wake(woken: asyncio.Future[None]) -> None:
    if not woken.done():
        woken.set_result(None)


def budget_key(account: str, part: str) -> str:
    """The Redis key of one part of `account`'s budget.

    The braces keep an account's keys in one Redis Cluster slot, as a script needs.
    """
    return f"{KEY_PREFIX}:{{{account}}}:{part}"
