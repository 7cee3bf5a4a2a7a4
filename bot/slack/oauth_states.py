"""The OAuth `state` of installs in progress: in the database, single use, expiring, bounded.

Every replica can finish an install another began. slack_sdk's own SQLAlchemy state store
would do, but it lets two redirects carrying the same state both succeed (it reads, then
deletes), logs the state it refuses, never purges expired rows, and reads the wall clock;
this one consumes with a single DELETE, logs nothing, purges as it goes and is bounded.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import WRITE_LOCK
from bot.store.schema import STATE_LENGTH, oauth_states

log = logging.getLogger(__name__)

# As long as Slack's consent screen may reasonably stay open; Bolt's cookie lasts as long.
STATE_EXPIRATION_S = 600
# Installs begun and not finished within the expiry: anyone may open the install page, so
# the rows it makes are bounded. Far above what real installs need.
MAX_PENDING = 10_000


class TooManyInstalls(Exception):
    """MAX_PENDING installs are already in progress: a new one is refused until some expire."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


class DatabaseStateStore(AsyncOAuthStateStore):
    """Bolt's state store on the bot's database (table `oauth_states`)."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        expiration_s: int = STATE_EXPIRATION_S,
        max_pending: int = MAX_PENDING,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._lifetime = timedelta(seconds=expiration_s)
        self._max_pending = max_pending
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        """The logger Bolt may write to on this store's behalf."""
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """A new state, valid for the expiry; raise TooManyInstalls past the bound."""
        state = secrets.token_urlsafe(32)
        now = self._clock()
        async with self._engine.connect() as connection:
            # One writer at a time on SQLite, from the purge on: the count stays true.
            await connection.execution_options(**{WRITE_LOCK: True})
            async with connection.begin():
                await connection.execute(
                    delete(oauth_states).where(oauth_states.c.expire_at <= now)
                )
                # Replicas may each pass this at once and overshoot by a few: a bound on
                # growth, not an exact count.
                pending = await connection.scalar(select(func.count()).select_from(oauth_states))
                if pending is not None and pending >= self._max_pending:
                    raise TooManyInstalls(f"{pending} installs are in progress")
                await connection.execute(
                    insert(oauth_states).values(state=state, expire_at=now + self._lifetime)
                )
        return state

    async def async_consume(self, state: str) -> bool:
        """Whether `state` was issued and has not expired, and is now used: true once at most."""
        if not state or len(state) > STATE_LENGTH:
            return False
        async with self._engine.begin() as connection:
            # One statement: of two redirects with the same state, exactly one deletes it.
            deleted = await connection.execute(
                delete(oauth_states).where(
                    oauth_states.c.state == state, oauth_states.c.expire_at > self._clock()
                )
            )
        return deleted.rowcount == 1
