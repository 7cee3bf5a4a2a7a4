"""The database and what lives in it, as one object a server opens at start-up and closes."""

from __future__ import annotations

from bot.lifecycle import AsyncCloseable
from bot.store.audit import AuditTrail
from bot.store.engine import open_engine
from bot.store.migrate import upgrade
from bot.store.pins import Pins
from bot.store.settings import StoreSettings
from bot.store.watches import MAX_PER_CHANNEL, MAX_TOTAL, Watches


class Store(AsyncCloseable):
    """The engine, and the audit trail, the pins and the flow watches on it.

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
        self.engine = open_engine(settings)
        self.audit = AuditTrail(self.engine, retention_days=settings.retention_days)
        self.pins = Pins(self.engine)
        self.watches = Watches(
            self.engine, max_per_channel=max_watches_per_channel, max_total=max_watches
        )

    async def start(self) -> None:
        """Bring the schema up to date, then start writing and purging the audit trail."""
        await upgrade(self.engine)
        self.audit.start()

    async def close(self) -> None:
        """Write what the trail still holds (briefly), then close the connections."""
        try:
            await self.audit.close()
        finally:
            await self.engine.dispose()
