"""The migrations build exactly schema.py, on SQLite and PostgreSQL, and run once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.engine import open_engine
from bot.store.install_tables import metadata
from bot.store.migrate import HEAD_REVISION, bring_up_to_date, current, revision, upgrade
from bot.store.settings import StoreSettings
from tests.shared.store import database_for, engine_for, settings_for

# Migration 0004's tables, each after those that refer to it.
WATCH_TABLES = (
    "watch_deliveries",
    "flow_changes",
    "watch_threads",
    "flow_states",
    "listed_spaces",
    "watches",
    "leases",
)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = engine_for(database_url)
    yield engine
    await engine.dispose()


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


async def test_the_migrated_schema_is_schema_py(engine: AsyncEngine) -> None:
    assert await current(engine) is None

    await upgrade(engine)

    assert await current(engine) == HEAD_REVISION
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
            "pins",
            "watches",
            "flow_states",
            "listed_spaces",
            "flow_changes",
            "watch_deliveries",
            "watch_threads",
            "leases",
        }


async def test_upgrading_twice_changes_nothing(engine: AsyncEngine) -> None:
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(
            text("INSERT INTO workspace_spaces VALUES ('T1', 'space', CURRENT_TIMESTAMP)")
        )

    await upgrade(engine)

    assert await current(engine) == "0004"
    async with engine.connect() as connection:
        assert (
            await connection.execute(text("SELECT count(*) FROM workspace_spaces"))
        ).scalar() == 1
        assert await connection.run_sync(_differences) == []


def test_the_head_revision_is_the_newest_migration() -> None:
    # A start checks the revision against HEAD_REVISION before loading Alembic: a migration
    # added without moving it would never run.
    with as_file(files("bot.store") / "migrations") as folder:
        config = Config()
        config.set_main_option("script_location", str(folder))
        assert ScriptDirectory.from_config(config).get_heads() == [HEAD_REVISION]


async def test_bringing_up_to_date_reads_the_revision_then_migrates_only_if_behind(
    database_url: str,
) -> None:
    database = database_for(database_url)
    try:
        assert await revision(database) is None
        await bring_up_to_date(database, settings_for(database_url))
        assert await revision(database) == HEAD_REVISION
        async with database.transaction(write=True) as connection:
            # As a database left by the release before watches: 0004's tables are not there.
            await connection.execute("UPDATE alembic_version SET version_num = '0003'")
            for table in WATCH_TABLES:
                await connection.execute(f"DROP TABLE {table}")
        assert await revision(database) == "0003"

        await bring_up_to_date(database, settings_for(database_url))

        assert await revision(database) == HEAD_REVISION
        async with database.connection() as connection:
            assert await connection.fetch_value("SELECT count(*) FROM watches") == 0
    finally:
        await database.close()


async def test_an_empty_database_differs_from_schema_py(engine: AsyncEngine) -> None:
    # The comparison above would be worthless if it found nothing to compare.
    async with engine.connect() as connection:
        differences = await connection.run_sync(_differences)

    added = sorted(difference[0] for difference in differences)
    assert added == ["add_index"] * 11 + ["add_table"] * len(metadata.tables)


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
