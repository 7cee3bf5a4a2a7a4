"""Fixtures: a fresh emulator per test, a fake clock, a redis-server and a PostgreSQL server of
the tests' own, an empty database of either kind, the bot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.standin.harness.emulator import RunningEmulator, running_emulator
from bot.standin.harness.postgres_server import PostgresServer, start_postgres
from bot.standin.harness.redis_server import RedisServer, running_redis
from bot.standin.harness.slack_bot import Bot, running_bot
from tests.fake_clock import FakeClock


@pytest.fixture
async def cams() -> AsyncIterator[RunningEmulator]:
    """An emulator with throttling off."""
    async with running_emulator() as running:
        yield running


@pytest.fixture
def fake_clock() -> FakeClock:
    """A monotonic clock that moves only when the code under test sleeps or the test advances it."""
    return FakeClock(1000.0, sleep_advances=True)


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    """A real redis-server on a free port, killed after the test."""
    async with running_redis() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the whole run, started on first use and stopped at the end."""
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of either kind; a PostgreSQL one is dropped after the test."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'flowpreview.sqlite3'}"
        return
    # Looked up only here, so that runs without PostgreSQL tests never start the server.
    server: PostgresServer = request.getfixturevalue("postgres_server")
    url = await server.create_database()
    yield url
    await server.drop_database(url)


@pytest.fixture
async def bot() -> AsyncIterator[Bot]:
    """The bot's web application with an emulator and a fake Slack, each on loopback."""
    async with running_bot() as running:
        yield running
