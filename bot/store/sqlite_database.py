"""The bot's SQLite file, through aiosqlite: a small pool of connections, each on its own thread."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path

import aiosqlite

from bot.store.database import (
    BUSY_TIMEOUT_MS,
    POOL_OVERFLOW,
    POOL_SIZE,
    POOL_WAIT_S,
    ConflictError,
    Connection,
    Database,
    DatabaseError,
    Dialect,
    Row,
    one_line,
    utc_text,
)

_NUMBERED = re.compile(r"\$(\d+)")


@functools.lru_cache(maxsize=512)
def _sqlite_sql(sql: str) -> str:
    # $1 -> ?1: SQLite's own numbered parameters, so a statement may use one twice.
    return _NUMBERED.sub(r"?\1", sql)


def _values(args: Sequence[object]) -> tuple[object, ...]:
    return tuple(utc_text(value) if isinstance(value, datetime) else value for value in args)


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise ConflictError(one_line(exc)) from exc
    except (sqlite3.Error, OSError) as exc:
        raise DatabaseError(one_line(exc)) from exc
    except ValueError as exc:
        # aiosqlite's word for a connection closed under a statement (the database closing).
        raise DatabaseError(one_line(exc)) from exc


async def _close_quietly(connection: aiosqlite.Connection) -> None:
    with contextlib.suppress(sqlite3.Error, ValueError):
        await connection.close()


class _SqliteConnection(Connection):
    dialect = Dialect.SQLITE

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, *args: object) -> int:
        with _translated():
            cursor = await self._connection.execute(_sqlite_sql(sql), _values(args))
            changed = cursor.rowcount
            await cursor.close()
        return max(changed, 0)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with _translated():
            await self._connection.executemany(_sqlite_sql(sql), [_values(row) for row in rows])

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        with _translated():
            rows = await self._connection.execute_fetchall(_sqlite_sql(sql), _values(args))
        return [tuple(row) for row in rows]


class SqliteDatabase(Database):
    """The SQLite file at `path` (its folder made if need be), in WAL mode."""

    dialect = Dialect.SQLITE

    def __init__(self, path: Path, *, pool_size: int = POOL_SIZE) -> None:
        self.path = path
        self._pool_size = pool_size
        self._idle: list[aiosqlite.Connection] = []
        self._busy: set[aiosqlite.Connection] = set()
        self._slots: asyncio.Semaphore | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Connection]:
        """See Database.transaction."""
        async with self._leased() as connection:
            with _translated():
                await connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield _SqliteConnection(connection)
            except Exception:
                # The error is the caller's to see, not the rollback's: a connection whose
                # rollback fails is closed, not pooled (see _give_back).
                with contextlib.suppress(sqlite3.Error, ValueError):
                    await connection.rollback()
                raise
            with _translated():
                await connection.commit()

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """See Database.connection."""
        async with self._leased() as connection:
            yield _SqliteConnection(connection)

    async def close(self) -> None:
        """See Database.close."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in [*idle, *self._busy]:
            await _close_quietly(connection)
        self._busy.clear()
        await asyncio.gather(*self._closing)

    @contextlib.asynccontextmanager
    async def _leased(self) -> AsyncIterator[aiosqlite.Connection]:
        if self._closed:
            raise DatabaseError("the database is closed")
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._pool_size + POOL_OVERFLOW)
        try:
            async with asyncio.timeout(POOL_WAIT_S):
                await self._slots.acquire()
        except TimeoutError:
            raise DatabaseError(f"no connection was free within {POOL_WAIT_S:g} s") from None
        try:
            if self._closed:
                raise DatabaseError("the database is closed")
            connection = self._idle.pop() if self._idle else await self._open()
            self._busy.add(connection)
            reusable = False
            try:
                yield connection
                reusable = True
            except Exception:
                reusable = True
                raise
            finally:
                # Interrupted any other way (a cancellation, a timeout), a statement may still
                # be running on the connection's thread, a BEGIN among them: only a connection
                # known to be idle goes back to the pool.
                self._busy.discard(connection)
                self._give_back(connection, reusable=reusable)
        finally:
            self._slots.release()

    def _give_back(self, connection: aiosqlite.Connection, *, reusable: bool) -> None:
        try:
            clean = reusable and not connection.in_transaction
        except (sqlite3.Error, ValueError):
            clean = False
        if clean and not self._closed and len(self._idle) < self._pool_size:
            self._idle.append(connection)
            return
        # Closed in the background: a statement still running on its thread (a BEGIN waiting
        # for the lock) finishes first, and whoever was cancelled need not wait for it.
        closing = asyncio.create_task(_close_quietly(connection))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def _open(self) -> aiosqlite.Connection:
        with _translated():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level None: the sqlite3 module would begin transactions itself, and
            # only before INSERT, UPDATE or DELETE; transaction() begins them instead.
            connection = await aiosqlite.connect(self.path, isolation_level=None)
            try:
                # WAL lets the CLI read while the bot writes; foreign keys are off in SQLite
                # by default. In WAL mode NORMAL syncs at checkpoints, not at every commit: a
                # power cut may lose the last moments of the audit trail, never corrupt it.
                for pragma in (
                    "journal_mode=WAL",
                    "foreign_keys=ON",
                    f"busy_timeout={BUSY_TIMEOUT_MS}",
                    "synchronous=NORMAL",
                ):
                    await connection.execute(f"PRAGMA {pragma}")
            except BaseException:
                await connection.close()
                raise
        return connection
