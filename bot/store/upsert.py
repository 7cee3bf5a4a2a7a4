"""INSERTs that can say what to do on a conflict, in the dialect of the database in use.

Each dialect's module is imported when its database is: a replica on SQLite never loads
SQLAlchemy's PostgreSQL dialect, nor one on PostgreSQL SQLite's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite


def upsert(connection: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that can say what to do on a conflict, in the connection's
    dialect."""
    if connection.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # noqa: PLC0415

        return insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert  # noqa: PLC0415

    return sqlite_insert(table)


def insert_new(connection: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into `table` that leaves a row already there as it is."""
    return upsert(connection, table).on_conflict_do_nothing()
