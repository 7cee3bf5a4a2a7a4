"""The audit trail: who was given, shared or refused which preview, kept for a retention period.

Recording must never slow an answer down or fail it: `record` only appends the record to a
bounded queue, and one writer task inserts what has queued, a batch per statement
(bot.store.audit_insert), on a connection it keeps. While the database is down the writer
keeps its batch and retries with backoff on a fresh connection; the queue fills, and then new
records are dropped and counted, so an outage costs neither memory nor latency. Drops are
logged at most once a minute, and the numbers logged add up to every record dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from bot.lifecycle import AsyncCloseable
from bot.metrics import AUDIT_RECORDS
from bot.store.audit_insert import Row, encode, insert
from bot.store.database import Connection, Database, one_line, read_time, utc_text
from bot.store.database import Row as FetchedRow
from bot.store.settings import DEFAULT_AUDIT_QUEUE_MAX, DEFAULT_RETENTION_DAYS

log = logging.getLogger(__name__)
_WRITTEN = AUDIT_RECORDS.labels("written")
_DROPPED = AUDIT_RECORDS.labels("dropped")

# The default bound of the queue; AUDIT_QUEUE_MAX sets it.
MAX_QUEUE = DEFAULT_AUDIT_QUEUE_MAX
BATCH = 500
# How long the writer lets records gather after the first before it writes them.
LINGER_S = 0.2
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 30.0
# Drops are logged at most this often, with how many there were in between; drops held back
# are logged when the minute is up (or at close) even if none follows.
WARN_EVERY_S = 60.0
PURGE_EVERY_S = 6 * 3600.0
# Deleted a chunk per statement, so that a purge after a long pause holds no long lock.
PURGE_CHUNK = 10_000
CLOSE_WAIT_S = 5.0
QUERY_LIMIT = 1000

_COLUMNS = "at, team_id, channel_id, user_id, flow_id, space_id, outcome, reason, request_id"
# A chunk of the records past retention; the subquery bounds what one statement deletes.
_PURGE = (
    "DELETE FROM audit_records WHERE id IN (SELECT id FROM audit_records WHERE at < $1 LIMIT $2)"
)
# The records of one request share their time: the IDs break such ties, so the order is the
# same on every call.
_RECENT_FLOWS = (
    "SELECT flow_id, space_id FROM audit_records "
    "WHERE team_id = $1 AND user_id = $2 AND outcome IN ($3, $4) AND flow_id IS NOT NULL "
    "GROUP BY flow_id, space_id "
    "ORDER BY max(at) DESC, flow_id, space_id "
    "LIMIT $5"
)


class AuditOutcome(StrEnum):
    """What became of a request for a preview, or of a watch."""

    GIVEN = "given"
    SHARED = "shared"
    REFUSED = "refused"
    FAILED = "failed"
    # A channel started or stopped watching a flow or a space; a change was posted to it.
    WATCHED = "watched"
    UNWATCHED = "unwatched"
    POSTED = "posted"


class AuditRecord(NamedTuple):
    """One preview handed out (or not): when, where, to whom, which flow, and how it went.

    A named tuple, not a dataclass: one is made for every preview, on the event loop, and a
    tuple is made in a third of the time and sent on with a slice (`_write`).
    """

    at: datetime
    team_id: str
    channel_id: str
    user_id: str
    flow_id: str | None
    space_id: str | None
    outcome: AuditOutcome
    reason: str | None = None
    request_id: str | None = None


class AuditTrail(AsyncCloseable):
    """Records written in the background; purges and queries on demand.

    `written` and `dropped` count records since start-up (for metrics); `backlog` is how
    many are recorded and not yet written. `clock` is Unix time; `sleep` waits between
    retries and between purges.
    """

    def __init__(
        self,
        database: Database,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        max_queue: int = MAX_QUEUE,
        batch: int = BATCH,
        purge_chunk: int = PURGE_CHUNK,
        linger: float = LINGER_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.retention = timedelta(days=retention_days)
        self.written = 0
        self.dropped = 0
        self._database = database
        # A deque and an event rather than an asyncio.Queue: appending is one C call, and the
        # writer is woken once per batch, not handed each record through a future.
        self._queue: deque[AuditRecord] = deque()
        self._max_queue = max_queue
        self._queued = asyncio.Event()
        self._batch = batch
        self._purge_chunk = purge_chunk
        self._linger = linger
        self._clock = clock
        self._sleep = sleep
        # Records taken onto the queue, and those of them written: flush waits for the second
        # to catch up with the first.
        self._recorded = 0
        self._settled = 0
        self._progress = asyncio.Condition()
        self._failing = False
        self._warned_at: float | None = None
        self._unwarned = 0
        self._latest_drop = ""
        # Logs the drops held back by the rate limit once the minute is up.
        self._drop_report: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        # The writer's own connection, held between batches, and the lease that gives it back;
        # `_in_doubt` while a statement on it has not finished (it was cut short, say).
        self._lease: AbstractAsyncContextManager[Connection] | None = None
        self._connection: Connection | None = None
        self._in_doubt = False

    @property
    def backlog(self) -> int:
        """Records recorded and not yet written."""
        return self._recorded - self._settled

    def record(self, record: AuditRecord) -> None:
        """Queue `record` for writing; never waits and never raises.

        Dropped (counted, and logged at most once a minute) when the queue is full, when the
        trail is closed, and when the record lacks what every record has (an aware time, a
        team, a channel and a user), which would otherwise fail its whole batch.
        """
        queue = self._queue
        if self._closed:
            self._drop("the audit trail is closed")
        elif not _complete(record):
            self._drop("a record lacked its time zone, team, channel or user")
        elif len(queue) >= self._max_queue:
            self._drop(f"{self._max_queue} records are waiting for the database")
        else:
            queue.append(record)
            self._recorded += 1
            if len(queue) == 1:
                self._queued.set()

    def start(self, *, purge: bool = True) -> None:
        """Start the writer and, unless told not to, the purges (now, then every 6 h)."""
        if self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._write_forever(), name="audit-writer"))
        if purge:
            self._tasks.append(asyncio.create_task(self.run_purges(), name="audit-purges"))

    async def flush(self, within: float) -> bool:
        """Wait until everything recorded so far is written; False if `within` s were not enough."""
        target = self._recorded
        try:
            async with asyncio.timeout(within), self._progress:
                await self._progress.wait_for(lambda: self._settled >= target)
        except TimeoutError:
            return False
        return True

    async def close(self, within: float = CLOSE_WAIT_S) -> None:
        """Accept no more records, write those queued (for `within` s at most), stop."""
        if self._closed:
            return
        self._closed = True
        if self._tasks:
            await self.flush(within)
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            # A write cut short leaves its connection in an unknown state: it is not reused.
            await self._release()
        report = self._drop_report
        if report is not None:
            report.cancel()
            await asyncio.gather(report, return_exceptions=True)
        if self._unwarned:
            self._warn_drops()
        lost = self.backlog
        if lost:
            self.dropped += lost
            _DROPPED.inc(lost)
            self._settled = self._recorded
            log.warning("audit trail: %d records were not written before shutdown", lost)

    async def purge(self, now: datetime) -> int:
        """Delete the records older than the retention period; how many went."""
        before = now - self.retention
        total = 0
        while True:
            async with self._database.transaction(write=True) as connection:
                deleted = await connection.execute(_PURGE, before, self._purge_chunk)
            total += deleted
            if deleted < self._purge_chunk:
                return total

    async def run_purges(self, every: float = PURGE_EVERY_S) -> None:
        """Purge now and then every `every` seconds until cancelled; a failure waits a turn."""
        while True:
            try:
                purged = await self.purge(datetime.fromtimestamp(self._clock(), UTC))
            # Whatever went wrong, the next turn tries again; the loop must not end.
            except Exception as exc:
                log.warning("audit trail: purge failed: %s", one_line(exc))
            else:
                if purged:
                    log.info("audit trail: purged %d records past the retention period", purged)
            await self._sleep(every)

    async def query(
        self,
        *,
        since: datetime | None = None,
        user: str | None = None,
        flow: str | None = None,
        limit: int = QUERY_LIMIT,
    ) -> list[AuditRecord]:
        """Records at or after `since`, for `user` and `flow` when given: newest first."""
        conditions: list[str] = []
        args: list[object] = []
        for condition, value in (("at >=", since), ("user_id =", user), ("flow_id =", flow)):
            if value is not None:
                args.append(value)
                conditions.append(f"{condition} ${len(args)}")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        args.append(limit)
        # Only the fixed conditions above are part of the text; every value is a parameter.
        statement = (
            f"SELECT {_COLUMNS} FROM audit_records{where} "  # noqa: S608
            f"ORDER BY at DESC, id DESC LIMIT ${len(args)}"
        )
        async with self._database.connection() as connection:
            rows = await connection.fetch(statement, *args)
        return [_from_row(row) for row in rows]

    async def recent_flows(
        self, team_id: str, user_id: str, *, limit: int = 10
    ) -> list[tuple[str, str | None]]:
        """The last `limit` distinct (flow_id, space_id) the person was given or shared a
        preview of, newest first by when they last were."""
        async with self._database.connection() as connection:
            rows = await connection.fetch(
                _RECENT_FLOWS,
                team_id,
                user_id,
                AuditOutcome.GIVEN.value,
                AuditOutcome.SHARED.value,
                limit,
            )
        return [(flow, space) for flow, space in rows]

    async def _write_forever(self) -> None:
        queue = self._queue
        while True:
            while not queue:
                self._queued.clear()
                await self._queued.wait()
            # One statement per moment rather than per request: each write costs a transaction
            # and a trip to the database's thread or server whatever it holds. With a full
            # batch already waiting there is nothing to wait for.
            if len(queue) < self._batch:
                await asyncio.sleep(self._linger)
            batch = [queue.popleft() for _ in range(min(len(queue), self._batch))]
            await self._write(batch)
            self.written += len(batch)
            _WRITTEN.inc(len(batch))
            async with self._progress:
                self._settled += len(batch)
                self._progress.notify_all()

    async def _write(self, batch: list[AuditRecord]) -> None:
        rows: list[Row] = []
        at: datetime | None = None
        at_text = ""
        for record in batch:
            # The records of one request share their time: it is written out once for them.
            if record.at is not at:
                at = record.at
                at_text = utc_text(at)
            rows.append((at_text, *record[1:]))
        payload = encode(rows)
        delay = RETRY_FIRST_S
        while True:
            kept = self._connection is not None
            try:
                await self._insert(payload)
            # The writer must outlive anything: a database that is down, locked, not yet
            # migrated, or a bug; the batch waits, and the queue bounds what waits behind it.
            except Exception as exc:
                # Whatever the connection's state, the next attempt starts on a fresh one.
                await self._release(exc)
                if kept:
                    # The connection kept since the last batch may have been closed meanwhile
                    # (a restart, an idle timeout): a fresh one is tried at once, unremarked.
                    continue
                if not self._failing:
                    log.warning(
                        "audit trail: cannot write (%s); keeping %d records and retrying",
                        one_line(exc),
                        len(batch),
                    )
                    self._failing = True
                await self._sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if self._failing:
                queued = self.backlog - len(batch)
                log.warning("audit trail: writing again; %d more records queued", queued)
                self._failing = False
            return

    async def _insert(self, payload: str) -> None:
        connection = self._connection
        if connection is None:
            # Entered here and left in _release: the connection outlives any one batch.
            lease = self._database.connection()
            connection = await lease.__aenter__()
            self._lease, self._connection = lease, connection
        self._in_doubt = True
        await insert(connection, payload)
        self._in_doubt = False

    async def _release(self, error: BaseException | None = None) -> None:
        """Give the writer's connection back to the database's pool; `error`, what its last
        statement failed with, tells the pool whether to keep it."""
        lease, self._lease, self._connection = self._lease, None, None
        if self._in_doubt and error is None:
            # Cut short: a statement may still be running on it, and the pool must not
            # hand it out again.
            error = _CutShort()
        self._in_doubt = False
        if lease is not None:
            # Shielded: once detached, the connection must be given back even if the writer
            # is cancelled meanwhile.
            await asyncio.shield(_give_back(lease, error))

    def _drop(self, why: str) -> None:
        self.dropped += 1
        _DROPPED.inc()
        self._unwarned += 1
        self._latest_drop = why
        now = self._clock()
        if self._warned_at is None or now - self._warned_at >= WARN_EVERY_S:
            self._warn_drops()
        elif self._drop_report is None:
            # A burst that ends within the minute would otherwise stay unlogged until the
            # next drop, however long that takes: the log would say 1 where the metric says
            # thousands. At most a minute away, even should the wall clock step back.
            self._schedule_drop_report(min(self._warned_at + WARN_EVERY_S - now, WARN_EVERY_S))

    def _schedule_drop_report(self, delay: float) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Recorded outside an event loop: the next drop or `close` logs these.
            return
        self._drop_report = loop.create_task(self._report_drops(delay), name="audit-drop-report")

    async def _report_drops(self, delay: float) -> None:
        try:
            await self._sleep(delay)
        finally:
            # Also when cancelled (by `close`, or as the loop ends): held back, never lost.
            self._drop_report = None
            if self._unwarned:
                self._warn_drops()

    def _warn_drops(self) -> None:
        log.warning(
            "audit trail: %d record(s) dropped since the last warning, the latest because %s",
            self._unwarned,
            self._latest_drop,
        )
        self._warned_at = self._clock()
        self._unwarned = 0


class _CutShort(BaseException):
    """What a connection whose statement was cut short is given back with: as a
    cancellation would, it tells the pool not to reuse the connection."""


async def _give_back(
    lease: AbstractAsyncContextManager[Connection], error: BaseException | None
) -> None:
    # The lease ends as a block that raised `error` would: the pool keeps a connection after
    # a statement that failed only if it still works. Giving back a connection that failed
    # may fail again; it is gone either way.
    with contextlib.suppress(Exception):
        if error is None:
            await lease.__aexit__(None, None, None)
        else:
            await lease.__aexit__(type(error), error, error.__traceback__)


def _complete(record: AuditRecord) -> bool:
    # Typed callers cannot fail these, but a record that did would fail its batch for good.
    at = record.at
    return (
        isinstance(at, datetime)
        and at.tzinfo is not None
        and isinstance(record.team_id, str)
        and isinstance(record.channel_id, str)
        and isinstance(record.user_id, str)
    )


def _from_row(row: FetchedRow) -> AuditRecord:
    at, team_id, channel_id, user_id, flow_id, space_id, outcome, reason, request_id = row
    return AuditRecord(
        read_time(at),
        team_id,
        channel_id,
        user_id,
        flow_id,
        space_id,
        AuditOutcome(outcome),
        reason,
        request_id,
    )
