"""`python -m bot migrate`: create or update the tables of the database the environment names."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from alembic.util import CommandError
from sqlalchemy.exc import SQLAlchemyError

from bot.store.database import one_line
from bot.store.engine import open_engine
from bot.store.migrate import current, upgrade
from bot.store.settings import StoreSettings

# Connection failures surface as OSError from the driver; Alembic's own as CommandError
# (for one, a database migrated by a newer flowpreview than this one).
DATABASE_ERRORS = (SQLAlchemyError, OSError, CommandError)


def add_parser(commands: Any, summary: str) -> None:
    """Register `migrate` on the sub-command parser."""
    parser = commands.add_parser(
        "migrate",
        help=summary,
        description=(
            "Bring the database named by DATABASE_URL (or the SQLite file DATABASE_PATH) up to "
            "the latest schema. Running it again changes nothing."
        ),
    )
    parser.set_defaults(run=run, log_default="WARNING")


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 when the database is up to date, 1 when it cannot be reached or migrated."""
    settings = StoreSettings.from_env(env)
    print(f"database: {settings.describe()}")
    try:
        before, after = asyncio.run(_migrate(settings))
    except DATABASE_ERRORS as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 1
    print(f"revision before: {before or 'none'}")
    print(f"revision after: {after or 'none'}")
    return 0


async def _migrate(settings: StoreSettings) -> tuple[str | None, str | None]:
    engine = open_engine(settings)
    try:
        before = await current(engine)
        await upgrade(engine)
        return before, await current(engine)
    finally:
        await engine.dispose()
