"""The drivers' one interface, on SQLite and PostgreSQL alike: parameters, times, rows changed,
transactions that commit or roll back, conflicts and errors as typed values."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.store.database import (
    ConflictError,
    Database,
    DatabaseError,
    Dialect,
    read_time,
    utc_text,
)
from bot.store.opening import open_database
from bot.store.settings import StoreSettings
from tests.shared.store import PASSWORD

AT = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = open_database(StoreSettings.from_env({"DATABASE_URL": database_url}))
    async with database.transaction(write=True) as connection:
        await connection.execute(
            "CREATE TABLE things (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL UNIQUE, "
            "at TIMESTAMP WITH TIME ZONE)"
        )
    yield database
    await database.close()


async def test_parameters_are_numbered_and_may_repeat(db: Database) -> None:
    async with db.transaction(write=True) as connection:
        await connection.execute("INSERT INTO things (id, name) VALUES ($1, $2)", 1, "one")
        found = await connection.fetch_value(
            "SELECT count(*) FROM things WHERE name = $1 OR name = $1 || $2", "one", "x"
        )

    assert found == 1


async def test_times_go_in_aware_and_come_back_as_utc(db: Database) -> None:
    elsewhere = AT.astimezone(timezone(timedelta(hours=-5)))
    async with db.transaction(write=True) as connection:
        await connection.execute("INSERT INTO things VALUES ($1, $2, $3)", 1, "one", elsewhere)
    async with db.connection() as connection:
        (at,) = await connection.fetch_one("SELECT at FROM things") or (None,)

    assert read_time(at) == AT
    assert read_time(at).tzinfo is UTC


async def test_execute_counts_the_rows_it_changed(db: Database) -> None:
    async with db.transaction(write=True) as connection:
        await connection.execute_many(
            "INSERT INTO things (id, name) VALUES ($1, $2)", [(1, "a"), (2, "b"), (3, "c")]
        )
        changed = await connection.execute("UPDATE things SET name = name || '!' WHERE id > $1", 1)
        deleted = await connection.execute("DELETE FROM things WHERE id = $1", 99)

    assert (changed, deleted) == (2, 0)


async def test_a_transaction_that_raises_is_rolled_back(db: Database) -> None:
    async def insert_then_fail() -> None:
        async with db.transaction(write=True) as connection:
            await connection.execute("INSERT INTO things (id, name) VALUES ($1, $2)", 1, "a")
            raise RuntimeError("after the insert")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with db.connection() as connection:
        assert await connection.fetch("SELECT * FROM things") == []


async def test_a_duplicate_is_a_conflict_and_leaves_the_connection_usable(db: Database) -> None:
    async with db.transaction(write=True) as connection:
        await connection.execute("INSERT INTO things (id, name) VALUES ($1, $2)", 1, "a")
    with pytest.raises(ConflictError):
        async with db.transaction(write=True) as connection:
            await connection.execute("INSERT INTO things (id, name) VALUES ($1, $2)", 2, "a")

    async with db.connection() as connection:
        assert await connection.fetch("SELECT id, name FROM things") == [(1, "a")]


async def test_a_bad_statement_is_a_database_error_of_one_line(db: Database) -> None:
    with pytest.raises(DatabaseError) as caught:
        async with db.connection() as connection:
            await connection.fetch("SELECT nothing FROM nowhere WHERE id = $1", "secret-id")

    assert not isinstance(caught.value, ConflictError)
    assert "\n" not in str(caught.value)
    assert "secret-id" not in str(caught.value)


async def test_writers_take_turns(db: Database) -> None:
    # Each reads the count and writes the next: without the write lock (SQLite) or row locks
    # they would both read 0.
    async with db.transaction(write=True) as connection:
        await connection.execute("INSERT INTO things (id, name) VALUES (0, 'counter')")

    async def bump() -> None:
        async with db.transaction(write=True) as connection:
            if connection.dialect is Dialect.POSTGRESQL:
                await connection.execute("SELECT pg_advisory_xact_lock($1)", 42)
            count = await connection.fetch_value("SELECT count(*) FROM things")
            await asyncio.sleep(0)
            await connection.execute(
                "INSERT INTO things (id, name) VALUES ($1, $2)", count, f"n{count}"
            )

    await asyncio.gather(*(bump() for _ in range(5)))
    async with db.connection() as connection:
        assert await connection.fetch_value("SELECT count(*) FROM things") == 6


async def test_a_closed_database_refuses_work(tmp_path: Path) -> None:
    db = open_database(StoreSettings.from_env({"DATABASE_PATH": str(tmp_path / "a" / "b.db")}))
    async with db.connection() as connection:
        assert await connection.fetch_value("PRAGMA journal_mode") == "wal"
        assert await connection.fetch_value("PRAGMA foreign_keys") == 1
        assert await connection.fetch_value("PRAGMA busy_timeout") == 5000
    await db.close()

    assert (tmp_path / "a" / "b.db").is_file()
    with pytest.raises(DatabaseError):
        async with db.connection():
            pass


async def test_an_unreachable_server_is_a_database_error_without_the_password() -> None:
    url = f"postgresql://bot:{PASSWORD}@127.0.0.1:1/flowpreview"
    db = open_database(StoreSettings.from_env({"DATABASE_URL": url}))
    try:
        with pytest.raises(DatabaseError) as caught:
            async with db.connection():
                pass
    finally:
        await db.close()

    assert PASSWORD not in str(caught.value)


def test_sqlite_keeps_times_as_sqlalchemy_wrote_them() -> None:
    assert utc_text(AT) == "2026-03-01 12:00:00.123456"
    assert read_time("2026-03-01 12:00:00.123456") == AT
    with pytest.raises(ValueError, match="naive"):
        utc_text(AT.replace(tzinfo=None))


async def test_a_writer_cancelled_waiting_for_sqlites_lock_leaves_no_transaction_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lock.db"
    db = open_database(StoreSettings.from_env({"DATABASE_PATH": str(path)}))

    async def write(name: str) -> None:
        async with db.transaction(write=True) as connection:
            await connection.execute("INSERT INTO things (name) VALUES ($1)", name)

    try:
        async with db.transaction(write=True) as connection:
            await connection.execute("CREATE TABLE things (name VARCHAR(20))")
        # Another process holds the write lock.
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        waiter = asyncio.create_task(write("cancelled"))
        # Its BEGIN IMMEDIATE goes out on the pooled connection at its first step, and waits
        # for the lock on that connection's thread.
        for _ in range(5):
            await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        other.execute("COMMIT")
        other.close()
        # The cancelled BEGIN now takes the lock on its thread: its connection must not come
        # back from the pool inside that transaction.
        await write("after")
        async with db.connection() as connection:
            names = await connection.fetch("SELECT name FROM things")
    finally:
        await db.close()

    assert names == [("after",)]


async def test_a_naive_time_is_refused_on_either_database(db: Database) -> None:
    with pytest.raises(DatabaseError, match="naive"):
        async with db.transaction(write=True) as connection:
            await connection.execute(
                "INSERT INTO things VALUES ($1, $2, $3)", 1, "one", AT.replace(tzinfo=None)
            )


async def test_a_value_that_does_not_fit_is_an_error_that_does_not_quote_it(db: Database) -> None:
    with pytest.raises(DatabaseError) as caught:
        async with db.transaction(write=True) as connection:
            await connection.execute("INSERT INTO things (id, name) VALUES ($1, 'x')", "U0SECRET")

    assert "U0SECRET" not in str(caught.value)
