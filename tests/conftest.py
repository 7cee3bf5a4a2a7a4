"""Fixtures for every test: a fresh emulator per test, a fake clock, a PostgreSQL server of the
tests' own, an empty database of either kind, the bot; and the `integration` marker.

tests/unit/ and tests/integration/ each mirror bot/. A unit test runs in this process over
loopback; an integration test starts a process (`python -m bot ...`, the demo, the emulator), a
redis-server or PostgreSQL, or runs for a while on the real clock (CAMS or Slack slow to answer,
a drain, slow clients, a flood of requests). tests/integration/conftest.py has the redis-server
fixture, which only integration tests use.

The rule `make test-fast` relies on: every test under tests/integration/, and every test that
uses `postgres_server` or `redis_server` (even through another fixture) or the PostgreSQL
variant of `database_url`, is marked `integration` here, at collection, and test-fast runs
tests/unit with `-m "not integration"`, so it needs neither server. A unit test parametrized
over both databases thus stays in its unit file, and its SQLite variant runs in the fast loop.

A fixture that a unit file and its integration counterpart share is defined once in
tests/shared/ and bound by name in both files (`dockerfile = container.dockerfile`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.standin.harness.emulator import RunningEmulator, running_emulator
from bot.standin.harness.postgres_server import PostgresServer, start_postgres
from bot.standin.harness.slack_bot import Bot, running_bot
from tests.fake_clock import FakeClock

INTEGRATION = "integration"
# Fixtures that start a server of the tests' own: a test using one, even through another
# fixture, is an integration test wherever its file is.
SERVER_FIXTURES = frozenset({"postgres_server", "redis_server"})
INTEGRATION_DIR = Path(__file__).resolve().parent / INTEGRATION


def pytest_configure(config: pytest.Config) -> None:
    """Declare the `integration` marker, which `--strict-markers` requires."""
    config.addinivalue_line(
        "markers",
        f"{INTEGRATION}: starts a process, a redis-server or PostgreSQL; applied at collection "
        "to tests/integration/ and to any test using postgres_server, redis_server or the "
        "postgresql database_url; make test-fast deselects it",
    )


def _is_integration(item: pytest.Item) -> bool:
    if INTEGRATION_DIR in item.path.parents:
        return True
    if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
        return True
    callspec = getattr(item, "callspec", None)
    return callspec is not None and callspec.params.get("database_url") == "postgresql"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark integration tests (see the module's docstring) so that `-m` can leave them out."""
    for item in items:
        if _is_integration(item):
            item.add_marker(INTEGRATION)


@pytest.fixture
async def cams() -> AsyncIterator[RunningEmulator]:
    """An emulator with throttling off."""
    async with running_emulator() as running:
        yield running


@pytest.fixture
def fake_clock() -> FakeClock:
    """A monotonic clock that moves only when the code under test sleeps or the test advances it."""
    return FakeClock(1000.0, sleep_advances=True)


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
