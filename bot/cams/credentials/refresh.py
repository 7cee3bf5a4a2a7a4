"""Temporary credentials kept fresh in the background, so that no ask ever waits for a refresh.

One task per source refreshes at two thirds of each credential's life, which is 20 minutes before
the end of STS's usual hour and 2 hours before the end of an ECS role's six. A failed refresh
keeps the credentials in hand while they last, raises the alarm (a warning, and
CREDENTIAL_REFRESH_FAILURES), and tries again after an exponential, jittered backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Protocol

from bot.cams.credentials.base import Credentials, CredentialsError
from bot.logs import background
from bot.metrics import CREDENTIAL_REFRESH_FAILURES, CREDENTIALS_EXPIRY

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# Refresh when this share of the life is gone.
REFRESH_AT = 2 / 3
# Credentials are not handed out in their last moments, so that a request signed with them
# cannot arrive after they expired: the last MARGIN_S seconds, or the last sixth of a shorter
# life (tests issue lives of a minute).
MARGIN_S = 15.0
MARGIN_SHARE = 1 / 6
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
# With nothing usable in hand, an ask may start an attempt at once, but not more than once
# in this many seconds: a broken STS must not be asked once per ask.
ASK_RETRY_GAP_S = 5.0
# How long an ask waits for an attempt under way: beyond the fetches' own timeouts.
WAIT_BOUND_S = 15.0
# Never refresh sooner than this after a success, whatever the life: no busy loop.
MIN_REFRESH_S = 1.0


class Fetcher(Protocol):
    """One provider's way to get a fresh set of temporary credentials."""

    async def fetch(self) -> Credentials:
        """New credentials with an expiry, or CredentialsError saying why not."""

    async def close(self) -> None:
        """Let go of connections."""


class RefreshingSource:
    """A CredentialSource for temporary credentials from `fetcher`.

    The background task starts at the first `current()`, so the source can be built before
    the event loop runs. `clock` is wall time (expiries are), `sleep` waits on it; tests
    inject both, and `rng` for the jitter.
    """

    def __init__(
        self,
        fetcher: Fetcher,
        *,
        provider: str,
        account: str,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
        rng: Clock = random.random,
        wait_bound: float = WAIT_BOUND_S,
    ) -> None:
        self._fetcher = fetcher
        self._provider = provider
        self._account = account
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._wait_bound = wait_bound
        self._held: Credentials | None = None
        self._usable_until = 0.0
        self._fetching = False
        self._failures = 0
        self._last_error: CredentialsError | None = None
        self._last_attempt = -float("inf")
        # Set at the end of every attempt, then replaced: waiters hold the one they awaited.
        self._attempted = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def provider(self) -> str:
        """The provider's name, for the start-up log."""
        return self._provider

    @property
    def account(self) -> str:
        """The account that budgets and caches are keyed by; refreshes do not change it."""
        return self._account

    def expires_at(self) -> float | None:
        """When the credentials in hand expire; None before the first."""
        return self._held.expires_at if self._held is not None else None

    async def current(self) -> Credentials:
        """The credentials in hand while usable, at once. Otherwise (none yet, or they ran out
        during an outage) wait, at most `wait_bound` seconds, for an attempt to end; raise
        CredentialsError when it failed."""
        self._ensure_running()
        held = self._held
        if held is not None and self._clock() < self._usable_until:
            return held
        if not self._fetching:
            error = self._last_error
            if error is not None and self._clock() - self._last_attempt < ASK_RETRY_GAP_S:
                raise CredentialsError(str(error))
            # Wake the task from its sleep: a refresh is overdue (the machine slept, or the
            # wall clock jumped) or its backoff is longer than an ask should wait.
            self._wake.set()
        attempted = self._attempted
        try:
            async with asyncio.timeout(self._wait_bound):
                await attempted.wait()
        except TimeoutError:
            raise CredentialsError(
                f"no credentials from {self._provider} within {self._wait_bound:g}s"
            ) from None
        held = self._held
        if held is not None and self._clock() < self._usable_until:
            return held
        if self._closed:
            raise CredentialsError("the credential source is closed (shutting down)")
        raise CredentialsError(str(self._last_error or "the credentials expired"))

    async def close(self) -> None:
        """Stop refreshing and close the fetcher's connections; `current()` fails from now."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # Asks waiting for an attempt learn at once that none will come.
        self._attempted.set()
        await self._fetcher.close()

    def start(self) -> None:
        """Fetch the first credentials now, so that a broken provider is logged and counted
        at start-up rather than at the first ask."""
        self._ensure_running()

    def _ensure_running(self) -> None:
        if self._closed:
            raise CredentialsError("the credential source is closed (shutting down)")
        # A task that ended (it only could by a bug) is replaced rather than waited on.
        if self._task is None or self._task.done():
            # A context of its own: begun by whichever ask came first, it serves everyone.
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"credentials refresh ({self._provider})", context=background()
            )

    async def _run(self) -> None:
        while True:
            self._fetching = True
            self._last_attempt = self._clock()
            try:
                fresh = await self._fetcher.fetch()
                expires_at = self._checked_expiry(fresh)
            except CredentialsError as error:
                delay = self._failed(error)
            except Exception as exc:
                # Only the type: a message could quote a request and its headers.
                delay = self._failed(CredentialsError(f"unexpected {type(exc).__name__}"))
            else:
                delay = self._accept(fresh, expires_at)
            finally:
                self._fetching = False
                attempted, self._attempted = self._attempted, asyncio.Event()
                attempted.set()
            await self._pause(delay)

    def _checked_expiry(self, fresh: Credentials) -> float:
        if fresh.expires_at is None:
            raise CredentialsError(f"{self._provider} gave credentials without an expiry")
        if fresh.expires_at <= self._clock():
            raise CredentialsError(
                f"{self._provider} gave credentials that expired "
                f"{self._clock() - fresh.expires_at:.0f}s ago; is this machine's clock right?"
            )
        return fresh.expires_at

    def _accept(self, fresh: Credentials, expires_at: float) -> float:
        """Hand out `fresh` from now on; the delay until the next refresh."""
        now = self._clock()
        life = expires_at - now
        if self._failures:
            log.info(
                "credentials refreshed from %s after %d failed attempts",
                self._provider,
                self._failures,
            )
        elif self._held is None:
            log.info("credentials from %s, valid until %s", self._provider, _when(expires_at))
        self._held = fresh
        self._usable_until = expires_at - min(MARGIN_S, life * MARGIN_SHARE)
        self._failures, self._last_error = 0, None
        CREDENTIALS_EXPIRY.set(expires_at)
        log.debug("credentials from %s valid until %s", self._provider, _when(expires_at))
        return max(MIN_REFRESH_S, life * REFRESH_AT)

    def _failed(self, error: CredentialsError) -> float:
        """Count and report a failed attempt; the delay before the next one."""
        self._failures += 1
        self._last_error = error
        CREDENTIAL_REFRESH_FAILURES.inc()
        ceiling = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2.0 ** min(self._failures - 1, 16))
        # Jitter in [half, all] of the ceiling: replicas that failed together spread out.
        delay = ceiling * (0.5 + 0.5 * self._rng())
        held = self._held
        left = self._usable_until - self._clock()
        if held is not None and left > 0:
            log.warning(
                "credentials refresh from %s failed (attempt %d): %s; keeping the current "
                "credentials, usable %.0fs more; retrying in %.1fs",
                self._provider,
                self._failures,
                error,
                left,
                delay,
            )
        else:
            log.error(
                "credentials from %s failed (attempt %d): %s; no usable credentials, CAMS "
                "calls fail until this works; retrying in %.1fs",
                self._provider,
                self._failures,
                error,
                delay,
            )
        return delay

    async def _pause(self, seconds: float) -> None:
        """Sleep `seconds` on the injected clock, or less if an ask wakes the task."""
        self._wake.clear()
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        woken = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()


def _when(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
