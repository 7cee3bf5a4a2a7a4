"""What the store's unit and integration tests share: audit records, databases, engines, a
password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.store.audit import AuditOutcome, AuditRecord, AuditTrail
from bot.store.database import Database
from bot.store.engine import open_engine
from bot.store.migrate import bring_up_to_date
from bot.store.opening import open_database
from bot.store.settings import StoreSettings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAIT_S = 10.0
# A password that must never show in a setting's text or in a log line.
PASSWORD = "pw-Sup3r-s3cret"


def make_record(
    at: datetime = NOW,
    *,
    user: str = "U1",
    flow: str | None = "1234567890",
    outcome: AuditOutcome = AuditOutcome.GIVEN,
    **extra: str,
) -> AuditRecord:
    """An audit record; `extra` may set its team, channel, space, reason and request_id."""
    return AuditRecord(
        at=at,
        team_id=extra.get("team", "T1"),
        channel_id=extra.get("channel", "C1"),
        user_id=user,
        flow_id=flow,
        space_id=extra.get("space", "space-a"),
        outcome=outcome,
        reason=extra.get("reason"),
        request_id=extra.get("request_id"),
    )


async def write_and_flush(trail: AuditTrail, *records: AuditRecord) -> None:
    """Hand `records` to the trail and wait, at most WAIT_S, until they are written."""
    for record in records:
        trail.record(record)
    assert await trail.flush(WAIT_S)


def engine_for(url: str) -> AsyncEngine:
    """An engine on the database at `url`, as the bot opens it."""
    return open_engine(StoreSettings.from_env({"DATABASE_URL": url}))


@pytest.fixture
async def bare_engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database, without tables."""
    engine = engine_for(database_url)
    yield engine
    await engine.dispose()


def settings_for(url: str) -> StoreSettings:
    """The settings of the database at `url`."""
    return StoreSettings.from_env({"DATABASE_URL": url})


def database_for(url: str) -> Database:
    """The database at `url`, as the bot opens it."""
    return open_database(settings_for(url))


@pytest.fixture
async def bare_database(database_url: str) -> AsyncIterator[Database]:
    """An empty database, without tables."""
    database = database_for(database_url)
    yield database
    await database.close()


@pytest.fixture
async def migrated_database(database_url: str) -> AsyncIterator[Database]:
    """A database with the schema up to date, and nothing in its tables."""
    database = database_for(database_url)
    await bring_up_to_date(database, settings_for(database_url))
    yield database
    await database.close()
