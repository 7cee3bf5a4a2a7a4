"""Bringing a database's schema up to date with Alembic, from code: no alembic.ini needed.

A start with the schema already current costs one query and loads neither Alembic nor
SQLAlchemy: only a database behind the code's migrations loads them.
"""

from __future__ import annotations

from importlib.resources import as_file, files
from typing import TYPE_CHECKING

from bot.store.database import Database, DatabaseError, one_line
from bot.store.settings import StoreSettings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.ext.asyncio import AsyncEngine

# Any number will do, as long as it is always the same one: the key of the advisory lock.
MIGRATION_LOCK = 0x666C6F77  # "flow"
# The newest migration in versions/; tests/unit/store/test_migrations.py keeps it so.
HEAD_REVISION = "0004"


async def bring_up_to_date(database: Database, settings: StoreSettings) -> None:
    """Migrate `database` (the one `settings` name) unless its revision is HEAD_REVISION.

    The revision is read with one query; Alembic runs, on a SQLAlchemy engine of its own,
    only when the schema is behind or the revision cannot be read. DatabaseError when the
    database cannot be reached or migrated.
    """
    if await revision(database) == HEAD_REVISION:
        return
    from bot.store.engine import open_engine  # noqa: PLC0415  # see the module's docstring

    engine = open_engine(settings)
    try:
        await upgrade(engine)
    except Exception as exc:
        # Alembic's and SQLAlchemy's errors, known only once they are loaded, become the
        # store's own: callers catch DatabaseError whatever the path.
        from alembic.util import CommandError  # noqa: PLC0415
        from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

        if isinstance(exc, SQLAlchemyError | CommandError | OSError):
            raise DatabaseError(one_line(exc)) from exc
        raise
    finally:
        await engine.dispose()


async def revision(database: Database) -> str | None:
    """The database's revision, read with one query; None when it has none, or cannot be
    read this way (no table yet, or no connection: migrating says what is wrong)."""
    try:
        async with database.connection() as connection:
            found = await connection.fetch_value("SELECT version_num FROM alembic_version")
    except DatabaseError:
        return None
    return found if isinstance(found, str) else None


async def upgrade(engine: AsyncEngine) -> None:
    """Apply every migration the database lacks (none when it is up to date), in one transaction.

    Processes migrating the same database at once take turns: the first migrates, the
    others then find the schema up to date. Within a process, one at a time: Alembic keeps
    its state in module globals.
    """
    from sqlalchemy import text  # noqa: PLC0415

    from bot.store.engine import WRITE_LOCK  # noqa: PLC0415

    async with engine.connect() as connection:
        await connection.execution_options(**{WRITE_LOCK: True})
        async with connection.begin():
            if connection.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                )
            await connection.run_sync(_upgrade)


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
