"""Opening the configured database, with its own driver and no other."""

from __future__ import annotations

from bot.store.database import Database
from bot.store.settings import StoreSettings


def open_database(settings: StoreSettings) -> Database:
    """The database `settings` name; connections open on first use. Only its driver is
    imported: aiosqlite for SQLite, asyncpg for PostgreSQL."""
    path = settings.sqlite_path
    if path is not None:
        from bot.store.sqlite_database import SqliteDatabase  # noqa: PLC0415

        return SqliteDatabase(path)
    from bot.store.postgres_database import PostgresDatabase  # noqa: PLC0415

    return PostgresDatabase(settings.url)
