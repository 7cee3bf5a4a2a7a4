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
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from importlib import resources
from typing import Any

from redis.asyncio import Redis

from bot.preview.errors import Busy
from bot.preview.limiter import LimiterSettings, LocalLimiter
from bot.preview.shared.link import RedisLink, Unavailable

MICROS = 1_000_000
KEY_PREFIX = "flowpreview:budget"


def _script(name: str) -> str:
    return resources.files("bot.preview.shared").joinpath("lua", name).read_text(encoding="utf-8")


def replica_share(settings: LimiterSettings, replicas: int) -> LimiterSettings:
    """One replica's budget when it cannot coordinate: the whole budget split evenly."""
    return LimiterSettings(
        rate=settings.rate // replicas,
        period=settings.period,
        margin=settings.margin,
        max_wait=settings.max_wait,
        cooldown=settings.cooldown,
    )


class SharedLimiter:
    """The AttemptGate of a replica among `replicas`, on Redis through `link`."""

    def __init__(self, link: RedisLink, settings: LimiterSettings, replicas: int) -> None:
        self.settings = settings
        self.share = replica_share(settings, replicas)
        self._link = link
        self._spacing = settings.period + settings.margin
        self._fence_s = settings.max_wait + self._spacing + link.retry_after
        self._fallback = LocalLimiter(self.share)
        self._admit = link.client.register_script(_script("admit.lua"))
        self._cooldown = link.client.register_script(_script("cooldown.lua"))
        self._fenced_at: dict[str, int] = {}

    async def admit(self, account: str, within: float = math.inf) -> None:
        """Sleep until `account`'s booked slot, or raise Busy; locally while Redis is out."""
        max_wait = min(self.settings.max_wait, within)
        # After an outage, this replica's own local grants must be over before its first
        # shared slot, or it would spend its local share and the shared one at once.
        not_before = max(0.0, self._fallback.horizon(account) - asyncio.get_running_loop().time())
        try:
            granted, wait_us = await self._link.call(
                lambda redis: self._book(redis, account, max_wait, not_before)
            )
        except Unavailable:
            await self._admit_locally(account, max_wait)
            return
        wait = wait_us / MICROS
        if not granted:
            raise Busy(wait)
        if wait > 0:
            await asyncio.sleep(wait)

    async def throttled(self, account: str, retry_after: float | None) -> None:
        """Pause `account` on every replica (and locally, should Redis be out)."""
        seconds = max(self.settings.cooldown, retry_after or 0.0)
        self._fallback.pause(account, seconds)
        with contextlib.suppress(Unavailable):
            await self._link.call(
                lambda redis: self._cooldown(
                    keys=[budget_key(account, "cooldown")],
                    args=[round(seconds * MICROS)],
                    client=redis,
                )
            )

    async def _book(
        self, redis: Redis, account: str, max_wait: float, not_before: float
    ) -> tuple[int, int]:
        if self._fenced_at.get(account, 0) != self._link.recoveries:
            # Back from an outage: other replicas may still be spending their share locally.
            await redis.set(budget_key(account, "fence"), 1, px=round(self._fence_s * 1000))
            self._fenced_at[account] = self._link.recoveries
        answer: Any = await self._admit(
            keys=[budget_key(account, k) for k in ("slots", "cooldown", "fence", "marker")],
            args=[
                self.settings.rate,
                self.share.rate,
                round(self._spacing * MICROS),
                round(max_wait * MICROS),
                round(self._fence_s * 1000),
                round(not_before * MICROS),
            ],
            client=redis,
        )
        return int(answer[0]), int(answer[1])

    async def _admit_locally(self, account: str, max_wait: float) -> None:
        # Any replica may still use slots booked on Redis up to the moment it went away.
        booked_for = self.settings.max_wait + self._spacing - self._link.seconds_since_lost()
        if booked_for > 0:
            self._fallback.pause(account, booked_for)
        if self.share.rate < 1:
            raise Busy(self._link.retry_after)
        await self._fallback.admit(account, max_wait)


def budget_key(account: str, part: str) -> str:
    """The Redis key of one part of `account`'s budget.

    The braces keep an account's keys in one Redis Cluster slot, as a script needs.
    """
    return f"{KEY_PREFIX}:{{{account}}}:{part}"
