"""The audit trail on the real clock and a real server: a writer that retries until the
database works, PostgreSQL dropping its connections, and a person's recent previews on
both databases."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest

from bot.standin.harness.postgres_server import PostgresServer
from bot.store.audit import AuditOutcome, AuditTrail
from bot.store.database import Database
from bot.store.migrate import bring_up_to_date
from tests.fake_clock import FakeClock
from tests.shared import store
from tests.shared.store import (
    NOW,
    WAIT_S,
    database_for,
    make_record,
    settings_for,
    write_and_flush,
)

# Fixtures defined once in tests/shared/store.py, bound here under the names tests take.
bare_database = store.bare_database
migrated_database = store.migrated_database


async def test_a_kept_connection_the_server_dropped_is_replaced_without_a_warning(
    postgres_server: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    # PostgreSQL only: a SQLite file has no server to drop the connection.
    url = await postgres_server.create_database()
    database = database_for(url)
    trail = AuditTrail(database)
    try:
        await bring_up_to_date(database, settings_for(url))
        trail.start(purge=False)
        with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
            await write_and_flush(trail, make_record(user="U1"))
            # As a server restart or an idle timeout would: every other session ends.
            async with database.connection() as connection:
                await connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            await write_and_flush(trail, make_record(user="U2"))
        records = await trail.query()
    finally:
        await trail.close()
        await database.close()
        await postgres_server.drop_database(url)

    assert sorted(record.user_id for record in records) == ["U1", "U2"]
    assert (trail.written, trail.dropped) == (2, 0)
    assert caplog.records == []


async def test_the_writer_keeps_its_batch_and_retries_until_the_database_works(
    bare_database: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # No tables yet: every insert fails until the migration runs, as in an outage.
    clock = FakeClock(NOW.timestamp())
    trail = AuditTrail(bare_database, clock=clock.time, sleep=clock.sleep)
    trail.start(purge=False)
    with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
        try:
            trail.record(make_record(user="U1"))
            assert await clock.next_sleep() == 0.5
            trail.record(make_record(user="U2"))
            clock.advance(0.5)
            assert await clock.next_sleep() == 1.0, "backing off"
            assert not await trail.flush(0.05)
            await bring_up_to_date(bare_database, settings_for(database_url))
            clock.advance(1.0)
            assert await trail.flush(WAIT_S)
            records = await trail.query()
        finally:
            await trail.close()

    assert sorted(record.user_id for record in records) == ["U1", "U2"]
    assert (trail.written, trail.dropped) == (2, 0)
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, "one when the outage starts, one when it ends"
    assert warnings[0].startswith("audit trail: cannot write (")
    assert "keeping 1 records and retrying" in warnings[0]
    assert warnings[1].startswith("audit trail: writing again")


async def test_recent_flows_are_the_persons_distinct_previews_newest_first(
    migrated_database: Database,
) -> None:
    trail = AuditTrail(migrated_database)
    trail.start(purge=False)

    def at(minutes: int) -> datetime:
        return NOW + timedelta(minutes=minutes)

    try:
        await write_and_flush(
            trail,
            make_record(at(0), flow="F1"),
            make_record(at(1), flow="F2", outcome=AuditOutcome.SHARED),
            make_record(at(2), flow="F1", space="space-b"),
            make_record(at(3), flow="F3")._replace(space_id=None),
            # F1 again: one entry for it, as recent as its latest record.
            make_record(at(4), flow="F1"),
            make_record(at(5), flow=None, outcome=AuditOutcome.REFUSED),
            make_record(at(6), flow="F4", outcome=AuditOutcome.REFUSED),
            make_record(at(7), flow="F5", outcome=AuditOutcome.FAILED),
            make_record(at(8), flow="F6", user="U2"),
            make_record(at(9), flow="F7", team="T2"),
        )
        recent = await trail.recent_flows("T1", "U1")
        latest_two = await trail.recent_flows("T1", "U1", limit=2)
        nobody = await trail.recent_flows("T1", "U3")
    finally:
        await trail.close()

    assert recent == [("F1", "space-a"), ("F3", None), ("F1", "space-b"), ("F2", "space-a")]
    assert latest_two == recent[:2]
    assert nobody == []
