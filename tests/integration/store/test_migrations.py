"""Migrations run by several sessions or processes at once, and PostgreSQL's own limits."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.standin.harness.postgres_server import PostgresServer
from bot.standin.harness.processes import clean_env, run_bot
from bot.store.migrate import MIGRATION_LOCK, current
from tests.shared.store import engine_for


async def test_a_migration_on_postgresql_waits_for_one_in_progress(
    postgres_server: PostgresServer,
) -> None:
    url = await postgres_server.create_database()
    engine = engine_for(url)
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
        assert await current(engine) == "0004"
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
    assert run.out.endswith("revision after: 0004\n")


async def test_postgresql_sessions_have_a_statement_timeout(
    postgres_server: PostgresServer,
) -> None:
    engine = engine_for(await postgres_server.create_database())
    try:
        async with engine.connect() as connection:
            timeout = (await connection.execute(text("SHOW statement_timeout"))).scalar()
            name = (await connection.execute(text("SHOW application_name"))).scalar()
    finally:
        await engine.dispose()

    assert (timeout, name) == ("30s", "flowpreview")
