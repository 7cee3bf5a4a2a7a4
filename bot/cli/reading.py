"""Reading the bot's database from the command line: it must exist and be migrated."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.cli.migrate import DATABASE_ERRORS
from bot.store.engine import describe_error, open_engine
from bot.store.migrate import current
from bot.store.settings import StoreSettings

T = TypeVar("T")


def read(settings: StoreSettings, query: Callable[[AsyncEngine], Awaitable[T]]) -> T | None:
    """What `query` reads from the database `settings` name; None, after one line on stderr
    saying why, when there is no database, it cannot be reached, or it has no tables yet."""
    path = settings.sqlite_path
    # Reading must not create an empty database where the bot's is expected.
    if path is not None and not path.is_file():
        print(f"error: no database at {path}; run `flowpreview migrate` first", file=sys.stderr)
        return None
    try:
        migrated, value = asyncio.run(_read(settings, query))
    except DATABASE_ERRORS as exc:
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return None
    if not migrated:
        print("error: the database has no tables yet; run `flowpreview migrate`", file=sys.stderr)
        return None
    return value


async def _read(
    settings: StoreSettings, query: Callable[[AsyncEngine], Awaitable[T]]
) -> tuple[bool, T | None]:
    engine = open_engine(settings)
    try:
        if await current(engine) is None:
            return False, None
        return True, await query(engine)
    finally:
        await engine.dispose()
