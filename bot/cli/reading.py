"""Reading the bot's database from the command line: it must exist and be migrated."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.store.database import Database, DatabaseError, one_line
from bot.store.migrate import revision
from bot.store.opening import open_database
from bot.store.settings import StoreSettings

T = TypeVar("T")


def read(settings: StoreSettings, query: Callable[[Database], Awaitable[T]]) -> T | None:
    """What `query` reads from the database `settings` name; None, after one line on stderr
    saying why, when there is no database, it cannot be reached, or it has no tables yet."""
    path = settings.sqlite_path
    # Reading must not create an empty database where the bot's is expected.
    if path is not None and not path.is_file():
        print(f"error: no database at {path}; run `flowpreview migrate` first", file=sys.stderr)
        return None
    try:
        migrated, value = asyncio.run(_read(settings, query))
    except (DatabaseError, OSError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return None
    if not migrated:
        print("error: the database has no tables yet; run `flowpreview migrate`", file=sys.stderr)
        return None
    return value


async def _read(
    settings: StoreSettings, query: Callable[[Database], Awaitable[T]]
) -> tuple[bool, T | None]:
    database = open_database(settings)
    try:
        # A database that cannot be reached says so here; one without tables has no revision.
        async with database.connection() as connection:
            await connection.fetch_value("SELECT 1")
        if await revision(database) is None:
            return False, None
        return True, await query(database)
    finally:
        await database.close()
