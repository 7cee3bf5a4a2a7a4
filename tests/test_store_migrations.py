"""The migrations build exactly schema.py, on SQLite and PostgreSQL, and run once."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.standin.harness.postgres_server import PostgresServer
from bot.standin.harness.processes import clean_env, run_bot
from bot.store.engine import open_engine
from bot.store.migrate import MIGRATION_LOCK, current, upgrade
from bot.store.schema import metadata
from bot.store.settings import StoreSettings


def _engine(url: str) -> AsyncEngine:
    return open_engine(StoreSettings.from_env({"DATABASE_URL": url}))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = _engine(database_url)
    yield engine
    await engine.dispose()


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_migrated_schema_is_schema_py(engine: AsyncEngine) -> None:
    assert await current(engine) is None

    await upgrade(engine)

    assert await current(engine) == "0002"
    async with engine.connect() as connection:
        assert await connection.run_sync(_differences) == []
        assert await connection.run_sync(_tables) == {
            "alembic_version",
            "audit_records",
            "channel_settings",
            "access_rules",
            "workspace_spaces",
            "slack_installations",
            "slack_bots",
            "oauth_states",
        }


async def test_upgrading_twice_changes_nothing(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO workspace_spaces VALUES ('T1', 'space', CURRENT_TIMESTAMP)")
        )

    await upgrade(engine)

    assert await current(engine) == "0002"
    async with engine.connect() as connection:
        assert (
            await connection.execute(text("SELECT count(*) FROM workspace_spaces"))
        ).scalar() == 1
        assert await connection.run_sync(_differences) == []


async def test_an_empty_database_differs_from_schema_py(engine: AsyncEngine) -> None:
    # The comparison above would be worthless if it found nothing to compare.
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    added = sorted(difference[0] for difference in differences)
    assert added == ["add_index"] * 6 + ["add_table"] * len(metadata.tables)


async def test_a_migration_on_postgresql_waits_for_one_in_progress(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.create_database()
    engine = _engine(url)
    try:
        async with engine.connect() as holder:
            # Another replica's migration, as far as the lock goes.
            await holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            await holder.commit()
            migrating = asyncio.create_task(run_bot("migrate", env=clean_env(DATABASE_URL=url)))
            async with asyncio.timeout(20):
                # Polled: the server tells no one when a session starts waiting.
                while not await _waiting_for_the_lock(engine):  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
            assert not migrating.done()
            await holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
            await holder.commit()
            run = await migrating
        assert run.code == 0, run.err
        assert await current(engine) == "0002"
    finally:
        await engine.dispose()


async def _waiting_for_the_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        )
        return bool(waiting.scalar())


async def test_a_migration_on_sqlite_takes_the_write_lock_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "flowpreview.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        # Another writer in the middle of its transaction. A migration that read the schema
        # first, then waited to write, would find its reading stale when this commits, and
        # fail; one that waits for the write lock before reading cannot.
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("CREATE TABLE other_writer (id INTEGER)")
        migrating = asyncio.create_task(run_bot("migrate", env=clean_env(DATABASE_PATH=str(path))))
        await asyncio.sleep(2)
        holder.execute("COMMIT")
        run = await migrating
    finally:
        holder.close()

    assert run.code == 0, run.err
    assert run.out.endswith("revision after: 0002\n")


async def test_sqlite_makes_its_folder_and_sets_its_pragmas(tmp_path: Path) -> None:
    path = tmp_path / "new" / "folder" / "flowpreview.sqlite3"
    engine = open_engine(StoreSettings.from_env({"DATABASE_PATH": str(path)}))
    try:
        async with engine.connect() as connection:
            pragmas = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
    finally:
        await engine.dispose()

    assert path.is_file()
    assert pragmas == ["wal", 1, 5000]


async def test_postgresql_sessions_have_a_statement_timeout(
    postgres_server: PostgresServer,
) -> None:
    engine = _engine(await postgres_server.create_database())
    try:
        async with engine.connect() as connection:
            timeout = (await connection.execute(text("SHOW statement_timeout"))).scalar()
            name = (await connection.execute(text("SHOW application_name"))).scalar()
    finally:
        await engine.dispose()

    assert (timeout, name) == ("30s", "flowpreview")
