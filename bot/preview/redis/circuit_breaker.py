"""One Redis client behind a circuit breaker, so an outage costs one timeout, not one per ask."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.errors import FlowpreviewError
from bot.metrics import REDIS_OUTAGES, REDIS_UP

log = logging.getLogger(__name__)

T = TypeVar("T")

# Redis answers in well under a millisecond on a healthy network; a quarter of a second
# without an answer is an outage, not a slow reply.
REDIS_TIMEOUT_S = 0.25
RETRY_AFTER_S = 1.0
# A health check waits this long for Redis, then answers without it: well inside the
# 300 ms a /healthz must answer in, even while Redis hangs.
CHECK_WAIT_S = 0.1


class RedisUnavailableError(FlowpreviewError):
    """Redis cannot be used right now; the caller falls back to what this replica has."""


class RedisCircuitBreaker:
    """Runs Redis operations while Redis works, and refuses them at once while it does not.

    After a failure the breaker is open: operations raise RedisUnavailableError without touching
    the network. After `retry_after` seconds one operation at a time may probe, and only a probe's
    success closes the breaker (a call that started before the outage proves nothing). Each
    outage is logged once when it starts and once when it ends.

    Health checks ping in a task of their own, one at a time, and wait for it at most
    `check_wait` seconds; a ping they stop waiting for still moves the breaker when it ends.
    """

    def __init__(
        self,
        client: Redis,
        *,
        retry_after: float = RETRY_AFTER_S,
        check_wait: float = CHECK_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.retry_after = retry_after
        self.check_wait = check_wait
        self._clock = clock
        self._opened_at: float | None = None
        self._lost_at: float | None = None
        self._probing = False
        self._pinging: asyncio.Task[None] | None = None
        self.recoveries = 0
        # Up until an operation fails: connections open on first use.
        REDIS_UP.set(1)

    @property
    def healthy(self) -> bool:
        """False from the first failure until a later success."""
        return self._opened_at is None

    def seconds_since_lost(self) -> float:
        """How long ago the current outage was first noticed (0 when there is none)."""
        return 0.0 if self._lost_at is None else self._clock() - self._lost_at

    async def check(self) -> bool:
        """Whether Redis works: the breaker is closed and a ping answered within `check_wait`.

        Health checks use this. The ping runs in a task of its own, one at a time and only
        when the breaker allows, so the answer comes within `check_wait` whatever Redis does.
        """
        if self._pinging is None or self._pinging.done():
            self._pinging = asyncio.create_task(self._ping())
        done, _ = await asyncio.wait({self._pinging}, timeout=self.check_wait)
        # A ping still unanswered means Redis is not answering now, whatever the breaker
        # has seen so far; the ping itself opens the breaker when it times out.
        return bool(done) and self.healthy

    async def _ping(self) -> None:
        with contextlib.suppress(RedisUnavailableError):
            await self.call(lambda redis: redis.ping())

    async def call(self, operation: Callable[[Redis], Awaitable[T]]) -> T:
        """Run `operation` on the client; RedisUnavailableError if the breaker is open or it
        fails."""
        opened_at = self._opened_at
        probe = opened_at is not None
        if opened_at is not None:
            if self._probing or self._clock() < opened_at + self.retry_after:
                raise RedisUnavailableError
            self._probing = True
        try:
            result = await operation(self.client)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            raise RedisUnavailableError from None
        finally:
            if probe:
                self._probing = False
        if probe and self._opened_at is not None:
            self._recovered()
        return result

    def _failed(self, exc: BaseException) -> None:
        now = self._clock()
        if self._opened_at is None:
            log.warning(
                "Redis is unreachable (%s); using this replica's share of the budget and its "
                "own cache until it is back",
                type(exc).__name__,
            )
            self._lost_at = now
            REDIS_UP.set(0)
            REDIS_OUTAGES.inc()
        self._opened_at = now

    def _recovered(self) -> None:
        self.recoveries += 1
        log.warning(
            "Redis is back after %.1fs; sharing the budget again", self.seconds_since_lost()
        )
        self._opened_at = None
        self._lost_at = None
        REDIS_UP.set(1)

    async def close(self) -> None:
        """Stop a health check's ping and close the client's connections."""
        if self._pinging is not None:
            self._pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pinging
        await self.client.aclose()
