"""Web API calls paced per workspace to a method's rate tier, and retried after a 429.

Slack counts calls per method and workspace, lets short bursts through and answers the rest
with HTTP 429 and Retry-After. A Pacer keeps a token bucket per workspace, so a burst of links
is sent as fast as the tier allows and no faster; a 429 holds back every call to that
workspace for as long as Slack asks, and the call is tried again. Waits are bounded: a call
that would wait longer than `max_wait` fails at once with PacingError.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from cachetools import LRUCache

from bot.errors import FlowpreviewError
from bot.slack.edge.web_api import SlackWebError, WebErrorKind

T = TypeVar("T")

# Slack's Tier 3: 50+ calls a minute per workspace, with bursts.
TIER_3_PER_MINUTE = 50
DEFAULT_BURST = 10
DEFAULT_MAX_WAIT_S = 60.0
DEFAULT_RETRIES = 2
# A 429 without a Retry-After waits this long.
DEFAULT_RETRY_AFTER_S = 1.0
# Workspaces tracked at once; one forgotten starts with a full bucket again.
MAX_WORKSPACES = 10_000


class PacingError(FlowpreviewError):
    """A call was not made: it would have waited too long, or Slack kept answering 429."""


class Pacer:
    """Calls for one method, paced per workspace to `per_minute` with bursts of `burst`.

    `clock` is monotonic seconds and `sleep` waits on it: tests pass their own.
    """

    def __init__(
        self,
        per_minute: float = TIER_3_PER_MINUTE,
        *,
        burst: int = DEFAULT_BURST,
        max_wait: float = DEFAULT_MAX_WAIT_S,
        retries: int = DEFAULT_RETRIES,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute
        self.burst = burst
        self.max_wait = max_wait
        self.retries = retries
        self._clock = clock
        self._sleep = sleep
        # Per workspace, the clock time at which its bucket is next empty of debt: a call may
        # go when this is at most `burst` intervals ahead of now.
        self._free_at: LRUCache[str, float] = LRUCache(MAX_WORKSPACES)

    async def call(self, team_id: str, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` once the workspace's pace allows it, tried again after each 429 up to
        `retries` times; PacingError when the wait would exceed `max_wait` or the retries run
        out. Other SlackWebErrors pass through."""
        for attempt in range(self.retries + 1):
            await self._turn(team_id)
            try:
                return await call()
            except SlackWebError as error:
                if error.kind is not WebErrorKind.RATE_LIMITED or attempt == self.retries:
                    if error.kind is WebErrorKind.RATE_LIMITED:
                        raise PacingError(f"{error.method}: still rate-limited") from error
                    raise
                wait = float(
                    DEFAULT_RETRY_AFTER_S if error.retry_after is None else error.retry_after
                )
                # This call and every other for the workspace wait as long as Slack asked
                # (_turn lets `burst - 1` intervals of debt through at once).
                held = self._clock() + wait + (self.burst - 1) * self.interval
                self._free_at[team_id] = max(self._free_at.get(team_id, 0.0), held)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _turn(self, team_id: str) -> None:
        now = self._clock()
        free_at = max(self._free_at.get(team_id, now), now)
        wait = free_at - now - (self.burst - 1) * self.interval
        if wait > self.max_wait:
            raise PacingError(f"a call would wait {wait:.0f} s for the workspace's rate limit")
        self._free_at[team_id] = free_at + self.interval
        if wait > 0:
            await self._sleep(wait)
