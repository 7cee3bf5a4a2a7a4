"""The tests' own PostgreSQL server: reachable over asyncpg, one empty database per request."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bot.standin.harness.postgres_server import PostgresServer

SYSTEM_PORT = 5432


async def _scalar(url: str, query: str) -> object:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return (await connection.execute(text(query))).scalar_one()
    finally:
        await engine.dispose()


async def test_answers_over_asyncpg(postgres_server: PostgresServer) -> None:
    assert await _scalar(postgres_server.url(), "select 1") == 1


def test_is_not_the_machines_server(postgres_server: PostgresServer) -> None:
    assert postgres_server.port != SYSTEM_PORT
    assert f"127.0.0.1:{postgres_server.port}/" in postgres_server.url()


async def test_each_database_is_separate_and_empty(postgres_server: PostgresServer) -> None:
    first = await postgres_server.create_database()
    second = await postgres_server.create_database()
    assert first != second

    engine = create_async_engine(first, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("create table marker (id int)"))
    finally:
        await engine.dispose()

    tables = "select count(*) from pg_tables where schemaname = 'public'"
    assert await _scalar(first, tables) == 1
    assert await _scalar(second, tables) == 0
    assert await _scalar(second, "select current_database()") == second.rsplit("/", 1)[1]


async def test_database_url_is_empty(database_url: str) -> None:
    tables = (
        "select count(*) from pg_tables where schemaname = 'public'"
        if database_url.startswith("postgresql")
        else "select count(*) from sqlite_master where type = 'table'"
    )
    assert await _scalar(database_url, tables) == 0
