"""The bot's PostgreSQL database, through asyncpg's pool."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import datetime

import asyncpg

from bot.store.database import (
    CONNECT_TIMEOUT_S,
    POOL_OVERFLOW,
    POOL_SIZE,
    POOL_WAIT_S,
    STATEMENT_TIMEOUT_MS,
    ConflictError,
    Connection,
    Database,
    DatabaseError,
    Dialect,
    Row,
    one_line,
)
from bot.store.database_url import DatabaseUrl
from bot.store.settings import STATEMENT_CACHE

# Connections idle this long are closed, so that a quiet replica holds none.
IDLE_LIFETIME_S = 300.0
COMMAND_MARGIN_S = 5.0
CLOSE_TIMEOUT_S = 10.0
# What a connection the server dropped (a restart, a failover, an idle timeout) fails with.
_DROPPED = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.InterfaceError, OSError)
# What asyncpg raises when a parameter cannot be sent as its column's type; it exports only
# PostgreSQL's own DataError by that name.
_CLIENT_DATA_ERROR = asyncpg.exceptions._base.DataError


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise ConflictError(one_line(exc)) from exc
    except (asyncpg.DataError, _CLIENT_DATA_ERROR) as exc:
        # Their messages quote the value that did not fit (a person's ID, say): asyncpg's when
        # it could not send a parameter, PostgreSQL's for its class 22 errors.
        raise DatabaseError(f"{type(exc).__name__}: a value does not fit its column") from exc
    except (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        asyncpg.InternalClientError,
        OSError,
        TimeoutError,
    ) as exc:
        raise DatabaseError(one_line(exc)) from exc


def _checked(args: tuple[object, ...]) -> tuple[object, ...]:
    # asyncpg would take a naive datetime as the server's local time; SQLite's side refuses it.
    for value in args:
        if isinstance(value, datetime) and value.tzinfo is None:
            raise DatabaseError("a naive datetime has no time zone: give an aware one")
    return args


async def _release(pool: asyncpg.Pool, connection: asyncpg.Connection) -> None:
    # A connection whose reset fails is terminated by asyncpg, which then raises: the error
    # that matters is the caller's, or none after a commit that went through.
    with contextlib.suppress(Exception):
        await pool.release(connection)


def _changed(status: str) -> int:
    # "UPDATE 3", "DELETE 0", "INSERT 0 1": the last word counts the rows.
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class _PostgresConnection(Connection):
    dialect = Dialect.POSTGRESQL

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection

    async def execute(self, sql: str, *args: object) -> int:
        with _translated():
            return _changed(await self._connection.execute(sql, *_checked(args)))

    async def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with _translated():
            await self._connection.executemany(sql, [_checked(tuple(row)) for row in rows])

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        with _translated():
            records = await self._connection.fetch(sql, *_checked(args))
        return [tuple(record) for record in records]


class PostgresDatabase(Database):
    """The database at `url`; at most POOL_SIZE + POOL_OVERFLOW connections, none held idle
    for long."""

    dialect = Dialect.POSTGRESQL

    def __init__(self, url: DatabaseUrl) -> None:
        self._url = url
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Connection]:
        """See Database.transaction; a connection found dropped at BEGIN is replaced once."""
        pool = await self._open()
        connection, transaction = await self._begun(pool, retry=True)
        try:
            yield _PostgresConnection(connection)
        except BaseException:
            # The caller's error is the one to see; asyncpg's release resets the connection.
            with contextlib.suppress(*_DROPPED, asyncpg.PostgresError):
                await transaction.rollback()
            raise
        else:
            with _translated():
                await transaction.commit()
        finally:
            await _release(pool, connection)

    async def _begun(
        self, pool: asyncpg.Pool, *, retry: bool
    ) -> tuple[asyncpg.Connection, asyncpg.transaction.Transaction]:
        connection = await self._acquire(pool)
        transaction = connection.transaction()
        try:
            with _translated():
                await transaction.start()
        except DatabaseError as error:
            await _release(pool, connection)
            if not (retry and isinstance(error.__cause__, _DROPPED)):
                raise
            # After a restart or a failover every pooled connection is as dead as this one.
            await pool.expire_connections()
            return await self._begun(pool, retry=False)
        except BaseException:
            await _release(pool, connection)
            raise
        return connection, transaction

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """See Database.connection; a connection found dropped sends the pool's others to be
        replaced at their next use, as after a restart or a failover they are as dead."""
        pool = await self._open()
        connection = await self._acquire(pool)
        try:
            yield _PostgresConnection(connection)
        except DatabaseError as error:
            if isinstance(error.__cause__, _DROPPED):
                await pool.expire_connections()
            raise
        finally:
            await _release(pool, connection)

    async def close(self) -> None:
        """See Database.close: connections still in use get CLOSE_TIMEOUT_S to come back."""
        self._closed = True
        async with self._opening:
            pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            pool.terminate()

    async def _acquire(self, pool: asyncpg.Pool) -> asyncpg.Connection:
        try:
            connection: asyncpg.Connection = await pool.acquire(timeout=POOL_WAIT_S)
        except TimeoutError:
            raise DatabaseError(f"no connection was free within {POOL_WAIT_S:g} s") from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise DatabaseError(one_line(exc)) from exc
        return connection

    async def _open(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._closed:
                raise DatabaseError("the database is closed")
            if self._pool is None:
                url = self._url
                with _translated():
                    # min_size 0: the pool connects on first use, as each statement needs.
                    self._pool = await asyncpg.create_pool(
                        host=url.host,
                        port=url.port,
                        user=url.username,
                        password=url.password,
                        database=url.database,
                        ssl=url.query.get("ssl"),
                        statement_cache_size=int(url.query.get(STATEMENT_CACHE, "100")),
                        min_size=0,
                        max_size=POOL_SIZE + POOL_OVERFLOW,
                        max_inactive_connection_lifetime=IDLE_LIFETIME_S,
                        timeout=CONNECT_TIMEOUT_S,
                        # The server ends a statement at statement_timeout; this ends the wait
                        # for one whose connection died without a word.
                        command_timeout=STATEMENT_TIMEOUT_MS / 1000 + COMMAND_MARGIN_S,
                        server_settings={
                            "application_name": "flowpreview",
                            "statement_timeout": str(STATEMENT_TIMEOUT_MS),
                        },
                    )
            assert self._pool is not None
            return self._pool
