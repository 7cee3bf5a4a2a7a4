"""The bot's tables on their drivers alone: aiosqlite for SQLite, asyncpg for PostgreSQL.

SQLAlchemy, with the asyncio extension it needs, costs a replica about 20 MiB at rest: more
than all a replica may take beside a bare Bolt app to fit small containers
(docs/operating/footprint.md has the figures). The bot's statements are few and plain, so
they are written in SQL that both databases take, and run through this one small interface.
SQLAlchemy and Alembic stay for what they do best, loaded only when needed: migrations
(bot.store.migrate) and slack_sdk's installation store (bot.store.engine).

Statements number their parameters `$1`, `$2`, ... (PostgreSQL's style; on SQLite they are
sent as `?1`, `?2`, ...). A datetime goes in aware and comes back through `read_time`: SQLite
keeps it as naive UTC text, in the format SQLAlchemy wrote before, so old rows read the same.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.errors import FlowpreviewError
from bot.lifecycle import AsyncCloseable

Row = tuple[Any, ...]
"""A result row, its values in the order the statement selects them."""

# The bot does a few small statements at a time: a handful of connections is plenty (the
# audit trail's writer keeps one of them busy), and a bound keeps several replicas within
# PostgreSQL's max_connections.
POOL_SIZE = 5
POOL_OVERFLOW = 5
POOL_WAIT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
# A writer that finds the SQLite file locked waits this long for the lock, then fails (and the
# audit trail retries) rather than failing at once.
BUSY_TIMEOUT_MS = 5_000
# No statement of ours should take long; one that does is stuck, and holds a connection.
STATEMENT_TIMEOUT_MS = 30_000
ERROR_LENGTH = 200


class Dialect(StrEnum):
    """Which database a connection talks to."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


class DatabaseError(FlowpreviewError):
    """A statement or a connection failed. The message is one line that names what went
    wrong, never a statement's parameters (people's IDs) nor the database's password."""


class ConflictError(DatabaseError):
    """A write broke a unique, foreign-key or check constraint."""


class Connection(ABC):
    """One connection, in a transaction or not, used by one task at a time."""

    dialect: Dialect

    @abstractmethod
    async def execute(self, sql: str, *args: object) -> int:
        """Run one statement; how many rows it inserted, changed or deleted."""

    @abstractmethod
    async def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        """Run one statement once for each of `rows`."""

    @abstractmethod
    async def fetch(self, sql: str, *args: object) -> list[Row]:
        """Run one statement; every row it returns."""

    async def fetch_one(self, sql: str, *args: object) -> Row | None:
        """Run one statement; its first row, or None."""
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetch_value(self, sql: str, *args: object) -> Any:
        """Run one statement; the first value of its first row, or None when there is none."""
        row = await self.fetch_one(sql, *args)
        return row[0] if row else None


class Database(AsyncCloseable, ABC):
    """A pool of connections to the configured database; connections open on first use."""

    dialect: Dialect

    @abstractmethod
    def transaction(self, *, write: bool = False) -> AbstractAsyncContextManager[Connection]:
        """A connection in one transaction: committed when the block ends, rolled back when
        it raises.

        `write` takes SQLite's write lock at BEGIN (BEGIN IMMEDIATE), so that what the
        transaction reads stays true until it writes, and a second writer waits for the
        lock (busy_timeout) instead of failing. PostgreSQL locks what it writes as it goes;
        what must be read and then written by one replica at a time takes an advisory lock.
        """

    @abstractmethod
    def connection(self) -> AbstractAsyncContextManager[Connection]:
        """A connection outside any transaction: each statement commits by itself."""

    @abstractmethod
    async def close(self) -> None:
        """Close every connection; the database may not be used afterwards."""


def read_time(value: datetime | str) -> datetime:
    """A time read from either database, as an aware UTC datetime."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def utc_text(at: datetime) -> str:
    """`at` as SQLite keeps a time here: naive UTC text, to the microsecond, as SQLAlchemy
    wrote it (so rows sort and compare as text in time order)."""
    if at.tzinfo is None:
        raise ValueError("a naive datetime has no time zone: give an aware one")
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def one_line(exc: BaseException) -> str:
    """An error as one short line: its type, and the first line of its message; a
    DatabaseError's message, which is such a line already."""
    if isinstance(exc, DatabaseError):
        return str(exc)
    lines = str(exc).strip().splitlines()
    first = lines[0][:ERROR_LENGTH] if lines else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
