"""The database and what lives in it, as one object a server opens at start-up and closes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.lifecycle import AsyncCloseable
from bot.store.audit import AuditTrail
from bot.store.migrate import bring_up_to_date
from bot.store.opening import open_database
from bot.store.pins import Pins
from bot.store.settings import StoreSettings
from bot.store.watches import MAX_PER_CHANNEL, MAX_TOTAL, Watches

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

# On PostgreSQL, the connections of slack_sdk's installation store: one quick keyed read per
# request to authorise it, and writes at installs and token rotations. Four serve thousands of
# reads a second, more than a replica answers, and keep it within 14 connections with its own.
INSTALLS_POOL_SIZE = 2
INSTALLS_POOL_OVERFLOW = 2


class Store(AsyncCloseable):
    """The database, and the audit trail, the pins and the flow watches in it.

    Made before the event loop runs (nothing connects until `start`), so that what records
    to the trail can hold it from the beginning; records made before `start` wait in its queue.
    """

    def __init__(
        self,
        settings: StoreSettings,
        *,
        max_watches_per_channel: int = MAX_PER_CHANNEL,
        max_watches: int = MAX_TOTAL,
    ) -> None:
        """`max_watches_per_channel` and `max_watches` bound the watches (WATCH_MAX_*)."""
        self.settings = settings
        self.database = open_database(settings)
        self._engine: AsyncEngine | None = None
        self.audit = AuditTrail(
            self.database,
            retention_days=settings.retention_days,
            max_queue=settings.audit_queue_max,
        )
        self.pins = Pins(self.database)
        self.watches = Watches(
            self.database, max_per_channel=max_watches_per_channel, max_total=max_watches
        )

    def sqlalchemy_engine(self) -> AsyncEngine:
        """A SQLAlchemy engine on the same database, made at the first call: slack_sdk's
        installation store needs one, so a replica that installs into several workspaces
        loads SQLAlchemy, and no other does."""
        if self._engine is None:
            from bot.store.engine import open_engine  # noqa: PLC0415

            # Beside the bot's own pool: a replica stays within a dozen connections or so.
            self._engine = open_engine(
                self.settings, pool_size=INSTALLS_POOL_SIZE, overflow=INSTALLS_POOL_OVERFLOW
            )
        return self._engine

    async def start(self) -> None:
        """Bring the schema up to date, then start writing and purging the audit trail."""
        await bring_up_to_date(self.database, self.settings)
        self.audit.start()

    async def close(self) -> None:
        """Write what the trail still holds (briefly), then close the connections."""
        try:
            await self.audit.close()
        finally:
            await self.database.close()
            if self._engine is not None:
                await self._engine.dispose()
