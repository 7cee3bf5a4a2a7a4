"""Bringing a database's schema up to date with Alembic, from code: no alembic.ini needed.

A start with the schema already current costs one query and loads no Alembic: only a database
behind the code's migrations loads it.
"""

from __future__ import annotations

from importlib.resources import as_file, files

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import WRITE_LOCK

# Any number will do, as long as it is always the same one: the key of the advisory lock.
MIGRATION_LOCK = 0x666C6F77  # "flow"
# The newest migration in versions/; tests/unit/store/test_migrations.py keeps it so.
HEAD_REVISION = "0004"


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every migration the database lacks (none when it is up to date), in one transaction.

    Processes migrating the same database at once take turns: the first migrates, the
    others then find the schema up to date. Within a process, one at a time: Alembic keeps
    its state in module globals.
    """
    if await is_current(engine):
        return
    async with engine.connect() as connection:
        await connection.execution_options(**{WRITE_LOCK: True})
        async with connection.begin():
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await connection.run_sync(_upgrade)


async def is_current(engine: AsyncEngine) -> bool:
    """Whether the database's revision is HEAD_REVISION, read with one query.

    A database that cannot be read this way (no table yet, or no connection) is not known to be
    current: upgrading it says what is wrong.
    """
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        return False
    return bool(found == HEAD_REVISION)


async def current(engine: AsyncEngine) -> str | None:
    """The database's revision, or None when no migration has run on it yet."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


def _upgrade(connection: Connection) -> None:
    from alembic import command  # noqa: PLC0415  # see the module's docstring
    from alembic.config import Config  # noqa: PLC0415

    # The migrations ship inside the package; as_file gives them a real folder even when the
    # package is not one (a zip).
    with as_file(files("bot.store") / "migrations") as folder:
        config = Config()
        config.set_main_option("script_location", str(folder))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415

    return MigrationContext.configure(connection).get_current_revision()
