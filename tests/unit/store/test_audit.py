"""The audit trail on SQLite and PostgreSQL: written in batches, read back, purged, bounded."""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import String

from bot.metrics import REGISTRY
from bot.standin.harness.processes import free_port
from bot.store.audit import WARN_EVERY_S, AuditOutcome, AuditRecord, AuditTrail
from bot.store.audit_insert import COLUMNS
from bot.store.database import Database
from bot.store.migrate import HEAD_REVISION, bring_up_to_date, revision
from bot.store.opening import open_database
from bot.store.schema import audit_records
from bot.store.settings import StoreSettings
from bot.store.store import Store
from tests.fake_clock import FakeClock, eventually
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

DROPS_LOGGED = re.compile(r"audit trail: (\d+) record\(s\) dropped since the last warning")


def _sqlite(path: Path) -> StoreSettings:
    return StoreSettings.from_env({"DATABASE_PATH": str(path)})


async def _count(database: Database) -> int:
    async with database.connection() as connection:
        return int(await connection.fetch_value("SELECT count(*) FROM audit_records"))


async def test_records_are_written_and_read_back_newest_first(migrated_database: Database) -> None:
    tokyo = timezone(timedelta(hours=9))
    trail = AuditTrail(migrated_database)
    trail.start(purge=False)
    try:
        await write_and_flush(
            trail,
            make_record(NOW - timedelta(hours=2), outcome=AuditOutcome.SHARED, channel="C2"),
            make_record(NOW.astimezone(tokyo), request_id="REQ-1"),
            make_record(NOW - timedelta(hours=1), outcome=AuditOutcome.FAILED, reason="throttled"),
        )
        records = await trail.query()
    finally:
        await trail.close()

    assert [record.outcome for record in records] == [
        AuditOutcome.GIVEN,
        AuditOutcome.FAILED,
        AuditOutcome.SHARED,
    ]
    assert records[0] == make_record(NOW, request_id="REQ-1")
    assert records[0].at.tzinfo is UTC
    assert records[1].reason == "throttled"
    assert records[2].channel_id == "C2"
    assert (trail.written, trail.dropped, trail.backlog) == (3, 0, 0)


def test_a_record_holds_every_written_column_in_the_tables_order() -> None:
    # The writer sends a record's fields as they stand, the time first: a column added to the
    # table and not to the record, or the other way round, must not go unnoticed.
    written = [column.name for column in audit_records.columns if column.name != "id"]
    assert list(AuditRecord._fields) == written


def test_the_insert_fills_and_clips_every_column_as_the_schema_declares() -> None:
    # The INSERT names its columns, and the lengths it clips to, without the schema's
    # SQLAlchemy tables: they must not drift apart.
    declared = [
        (column.name, column.type.length if isinstance(column.type, String) else None)
        for column in audit_records.columns
        if column.name != "id"
    ]
    assert list(COLUMNS) == declared


async def test_many_records_are_written_in_batches(migrated_database: Database) -> None:
    trail = AuditTrail(migrated_database, batch=50)
    trail.start(purge=False)
    try:
        await write_and_flush(
            trail, *(make_record(NOW + timedelta(seconds=i)) for i in range(1234))
        )
    finally:
        await trail.close()

    assert trail.written == 1234
    assert await _count(migrated_database) == 1234


async def test_query_filters(migrated_database: Database) -> None:
    trail = AuditTrail(migrated_database)
    trail.start(purge=False)
    try:
        await write_and_flush(
            trail,
            make_record(NOW - timedelta(days=2), user="U1", flow="F1"),
            make_record(NOW - timedelta(hours=1), user="U2", flow="F1"),
            make_record(NOW - timedelta(minutes=5), user="U1", flow="F2"),
            make_record(NOW, user="U1", flow=None, outcome=AuditOutcome.REFUSED),
        )
        since = await trail.query(since=NOW - timedelta(hours=1))
        by_user = await trail.query(user="U1")
        by_flow = await trail.query(flow="F1")
        both = await trail.query(user="U1", flow="F1", since=NOW - timedelta(days=3))
        newest = await trail.query(limit=2)
        none = await trail.query(user="nobody")
    finally:
        await trail.close()

    assert [r.at for r in since] == [NOW, NOW - timedelta(minutes=5), NOW - timedelta(hours=1)]
    assert [r.flow_id for r in by_user] == [None, "F2", "F1"]
    assert [r.user_id for r in by_flow] == ["U2", "U1"]
    assert [r.at for r in both] == [NOW - timedelta(days=2)]
    assert [r.at for r in newest] == [NOW, NOW - timedelta(minutes=5)]
    assert none == []


async def test_values_the_database_would_refuse_are_cleaned(migrated_database: Database) -> None:
    # Typed into Slack by anyone: PostgreSQL refuses NUL and lone surrogates, and both
    # databases' columns have a length. Any of these would fail the batch on every retry.
    trail = AuditTrail(migrated_database)
    trail.start(purge=False)
    try:
        await write_and_flush(
            trail,
            make_record(flow="a\x00b\ud800c", reason="r" * 1000, request_id="x" * 100),
            make_record(flow="9" * 300, outcome=AuditOutcome.REFUSED, space="é" * 100),
            # Sent in the same batch as the values above, so cleaned with them: kept whole.
            make_record(flow="sign-up 🙂", reason="ünïcode", space="客户"),
        )
        kept, clipped, cleaned = await trail.query()
    finally:
        await trail.close()

    assert cleaned.flow_id == "ab?c"
    assert cleaned.reason == "r" * 200
    assert cleaned.request_id == "x" * 64
    # Clipped to the column's length in characters, not bytes.
    assert (clipped.flow_id, clipped.space_id) == ("9" * 64, "é" * 64)
    assert (kept.flow_id, kept.reason, kept.space_id) == ("sign-up 🙂", "ünïcode", "客户")


async def test_quotes_backslashes_and_emoji_come_back_as_they_were(
    migrated_database: Database,
) -> None:
    # The rows travel as JSON: its escapes must not leak into the values. An emoji is escaped
    # as a surrogate pair, which sends its batch through the cleaning, and survives it.
    trail = AuditTrail(migrated_database)
    trail.start(purge=False)
    try:
        await write_and_flush(trail, make_record(flow="🙂 booking", reason="quote \" ' \\ end"))
        (record,) = await trail.query()
    finally:
        await trail.close()

    assert (record.flow_id, record.reason) == ("🙂 booking", "quote \" ' \\ end")


async def test_a_record_lacking_a_user_or_a_time_zone_is_dropped_not_written(
    migrated_database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    trail = AuditTrail(migrated_database)
    trail.start(purge=False)
    with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
        try:
            trail.record(make_record(NOW.replace(tzinfo=None)))
            trail.record(make_record(user=cast(str, None)))
            await write_and_flush(trail, make_record())
        finally:
            await trail.close()

    assert (trail.written, trail.dropped) == (1, 2)
    assert await _count(migrated_database) == 1
    assert "lacked its time zone, team, channel or user" in caplog.text


async def test_purge_deletes_what_is_past_retention(migrated_database: Database) -> None:
    trail = AuditTrail(migrated_database, retention_days=90)
    trail.start(purge=False)
    try:
        await write_and_flush(
            trail,
            make_record(NOW - timedelta(days=400)),
            make_record(NOW - timedelta(days=90, seconds=1)),
            make_record(NOW - timedelta(days=89)),
            make_record(NOW),
        )
        purged = await trail.purge(NOW)
        again = await trail.purge(NOW)
        left = await trail.query()
    finally:
        await trail.close()

    assert (purged, again) == (2, 0)
    assert [record.at for record in left] == [NOW, NOW - timedelta(days=89)]


async def test_purge_deletes_a_chunk_at_a_time(migrated_database: Database) -> None:
    trail = AuditTrail(migrated_database, retention_days=1, purge_chunk=2)
    trail.start(purge=False)
    try:
        await write_and_flush(
            trail, *(make_record(NOW - timedelta(days=2, seconds=i)) for i in range(5))
        )
        await write_and_flush(trail, make_record(NOW))
        purged = await trail.purge(NOW)
    finally:
        await trail.close()

    assert purged == 5
    assert await _count(migrated_database) == 1


async def test_purges_run_at_start_and_every_six_hours(migrated_database: Database) -> None:
    clock = FakeClock(NOW.timestamp())
    trail = AuditTrail(migrated_database, retention_days=90, clock=clock.time, sleep=clock.sleep)
    trail.start(purge=False)
    await write_and_flush(
        trail,
        make_record(NOW - timedelta(days=91)),
        make_record(NOW - timedelta(days=89, hours=20)),
    )
    purging = asyncio.create_task(trail.run_purges())
    try:
        assert await clock.next_sleep() == 6 * 3600
        assert await _count(migrated_database) == 1
        clock.advance(6 * 3600)
        assert await clock.next_sleep() == 6 * 3600
        assert await _count(migrated_database) == 0
    finally:
        purging.cancel()
        await trail.close()


async def test_a_failed_purge_is_logged_and_tried_again(
    bare_database: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(NOW.timestamp())
    trail = AuditTrail(bare_database, clock=clock.time, sleep=clock.sleep)
    with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
        purging = asyncio.create_task(trail.run_purges())
        try:
            assert await clock.next_sleep() == 6 * 3600
            assert "audit trail: purge failed: " in caplog.text
            await bring_up_to_date(bare_database, settings_for(database_url))
            clock.advance(6 * 3600)
            assert await clock.next_sleep() == 6 * 3600
        finally:
            purging.cancel()
            await trail.close()

    assert caplog.text.count("purge failed") == 1


async def test_an_unreachable_database_bounds_the_queue_and_record_never_waits(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"postgresql+asyncpg://flowpreview@127.0.0.1:{free_port()}/nowhere"
    database = database_for(url)
    clock = FakeClock(NOW.timestamp())
    trail = AuditTrail(database, max_queue=100, batch=10, clock=clock.time, sleep=clock.sleep)
    trail.start(purge=False)
    with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
        try:
            trail.record(make_record())
            await clock.next_sleep()
            started = time.perf_counter()
            for _ in range(1000):
                trail.record(make_record())
            elapsed = time.perf_counter() - started
            # The writer holds one record; the queue takes 100 more and drops the rest.
            assert (trail.backlog, trail.dropped) == (101, 900)
            clock.advance(61)
            trail.record(make_record())
            await trail.close(within=0.05)
        finally:
            await database.close()

    assert elapsed < 1.0
    drops = [r.getMessage() for r in caplog.records if "since the last warning" in r.getMessage()]
    assert drops == [
        "audit trail: 1 record(s) dropped since the last warning, the latest because 100 "
        "records are waiting for the database",
        "audit trail: 900 record(s) dropped since the last warning, the latest because 100 "
        "records are waiting for the database",
    ]
    assert "audit trail: 101 records were not written before shutdown" in caplog.text
    assert (trail.written, trail.dropped, trail.backlog) == (0, 1002, 0)


def _dropped_metric() -> float:
    return REGISTRY.get_sample_value("flowpreview_audit_records_total", {"result": "dropped"}) or 0


def _drops_logged(caplog: pytest.LogCaptureFixture) -> list[int]:
    return [
        int(match[1])
        for record in caplog.records
        if (match := DROPS_LOGGED.match(record.getMessage())) is not None
    ]


async def test_every_record_dropped_during_a_lock_is_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The report: 9,500 dropped during a lock, the metric said 9,500 and the log said 1.
    path = tmp_path / "flowpreview.sqlite3"
    database = open_database(_sqlite(path))
    await bring_up_to_date(database, _sqlite(path))
    locker = sqlite3.connect(path, isolation_level=None)
    trail = AuditTrail(database, linger=0)
    before = _dropped_metric()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
            locker.execute("BEGIN IMMEDIATE")
            trail.start(purge=False)
            trail.record(make_record())
            # The writer waits for the lock; the queue fills, and the rest are dropped.
            for _ in range(19_500):
                trail.record(make_record())
            locker.execute("ROLLBACK")
            assert await trail.flush(WAIT_S)
            await trail.close()
    finally:
        locker.close()
        await database.close()

    assert trail.dropped >= 9_500
    assert trail.written + trail.dropped == 19_501
    assert _dropped_metric() - before == trail.dropped
    assert sum(_drops_logged(caplog)) == trail.dropped


async def test_drops_held_back_by_the_rate_limit_are_logged_when_the_minute_is_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = open_database(_sqlite(tmp_path / "a.sqlite3"))
    clock = FakeClock(NOW.timestamp())
    # Not started: what is recorded stays queued, and nothing else sleeps on the clock.
    trail = AuditTrail(database, max_queue=1, clock=clock.time, sleep=clock.sleep)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
            for _ in range(4):
                trail.record(make_record())
            assert _drops_logged(caplog) == [1], "the first at once, the others held back"
            assert await clock.next_sleep() == WARN_EVERY_S
            clock.advance(WARN_EVERY_S)
            await eventually(lambda: len(_drops_logged(caplog)) == 2)
            await trail.close()
    finally:
        await database.close()

    assert _drops_logged(caplog) == [1, 2]
    assert "the latest because 1 records are waiting for the database" in caplog.text
    assert (trail.dropped, trail.backlog) == (4, 0)


async def test_close_logs_the_drops_held_back(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = open_database(_sqlite(tmp_path / "a.sqlite3"))
    trail = AuditTrail(database, max_queue=1)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.store.audit"):
            for _ in range(5):
                trail.record(make_record())
            await trail.close()
    finally:
        await database.close()

    assert _drops_logged(caplog) == [1, 3]
    assert "1 records were not written before shutdown" in caplog.text
    assert trail.dropped == 5


async def test_close_writes_what_is_queued_then_refuses_more(migrated_database: Database) -> None:
    # The purges run too, at NOW: on the real clock, from 90 days after NOW, one could
    # delete these records before they are counted.
    clock = FakeClock(NOW.timestamp())
    trail = AuditTrail(migrated_database, clock=clock.time, sleep=clock.sleep)
    trail.start()
    for second in range(5):
        trail.record(make_record(NOW + timedelta(seconds=second)))
    await trail.close()
    trail.record(make_record())

    assert (trail.written, trail.dropped) == (5, 1)
    assert await _count(migrated_database) == 5


async def test_the_store_migrates_writes_and_closes(database_url: str) -> None:
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    # Recorded before start: it waits in the queue.
    store.audit.record(make_record(datetime.now(UTC)))
    await store.start()
    try:
        assert await revision(store.database) == HEAD_REVISION
        assert await store.audit.flush(WAIT_S)
        assert len(await store.audit.query()) == 1
    finally:
        await store.close()
    assert store.audit.written == 1


async def test_the_store_bounds_the_queue_by_audit_queue_max(tmp_path: Path) -> None:
    env = {"DATABASE_PATH": str(tmp_path / "a.sqlite3"), "AUDIT_QUEUE_MAX": "100"}
    store = Store(StoreSettings.from_env(env))
    try:
        # Not started: what is recorded waits in the queue, up to its bound.
        for _ in range(101):
            store.audit.record(make_record())
        assert (store.audit.backlog, store.audit.dropped) == (100, 1)
    finally:
        await store.close()


async def test_records_that_back_up_are_written_as_they_were_given(
    migrated_database: Database,
) -> None:
    trail = AuditTrail(migrated_database, batch=10)
    # Each ID a string of its own, as each request brings: past a batch they are shared.
    given = [
        make_record(
            NOW - timedelta(seconds=second),
            user="".join(("U", str(second % 3))),
            team="".join(("T", "1")),
            channel="".join(("C", str(second % 2))),
        )
        for second in range(25)
    ]
    for record in given:
        trail.record(record)
    trail.start(purge=False)
    try:
        assert await trail.flush(WAIT_S)
        written = await trail.query()
    finally:
        await trail.close()

    assert written == given
