"""The database and what lives in it, as one object a server opens at start-up and closes."""

from __future__ import annotations

from bot.lifecycle import AsyncCloseable
from bot.store.audit import AuditTrail
from bot.store.engine import open_engine
from bot.store.migrate import upgrade
from bot.store.pins import Pins
from bot.store.settings import StoreSettings


class Store(AsyncCloseable):
    """The engine, and the audit trail and the pins on it.

    Made before the event loop runs (nothing connects until `start`), so that what records
    to the trail can hold it from the beginning; records made before `start` wait in its queue.
    """

    def __init__(self, settings: StoreSettings) -> None:
        self.settings = settings
        self.engine = open_engine(settings)
        self.audit = AuditTrail(self.engine, retention_days=settings.retention_days)
        self.pins = Pins(self.engine)

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
