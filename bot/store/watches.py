"""Flow watches in the database: who watches what, each flow's last-seen state, the changes seen,
their delivery to each watching channel, the threads they go to, and the leases replicas share.

Everything here holds IDs, names and statuses, never a preview's link.

Replicas share the work through the database alone:
- a bound on watches is checked in the transaction that inserts, which one writer at a time may
  hold (SQLite's write lock; on PostgreSQL an advisory lock), so racing adds cannot pass it;
- a flow's state is compared and stored in one transaction per flow, so that a change seen by
  two replicas at once is recorded once, with one delivery per watching channel;
- a delivery is claimed (pending -> posting) in one transaction, so that no two replicas post
  it; one left posting by a replica that died is claimed again once `stale_after` has passed.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.errors import FlowpreviewError
from bot.store.database import Connection, Database, DatabaseError, Dialect, Row, read_time
from bot.store.limits import NAME_LENGTH, REASON_LENGTH, STATUS_LENGTH

MAX_PER_CHANNEL = 200
MAX_TOTAL = 5000
# The PostgreSQL advisory locks (any numbers, as long as they stay the same and differ from the
# other locks'): one for adding watches, as the total bound spans every channel; one for
# claiming deliveries; and the first key of each flow's lock, whose second key is the flow's.
WATCH_LOCK = 0x77617463  # "watc"
CLAIM_LOCK = 0x706F7374  # "post"
FLOW_LOCK = 0x73746174  # "stat"
# A watch of the whole space is stored with this flow ID: a unique constraint lets NULLs repeat.
_WHOLE_SPACE = ""
# Why end_channel marks a channel's undelivered changes failed.
CHANNEL_ENDED = "the channel's watches ended"

_LOCK_ONE = "SELECT pg_advisory_xact_lock($1)"
_LOCK_TWO = "SELECT pg_advisory_xact_lock($1, $2)"

# A watch's columns, in the order _watch reads them.
_WATCH = (
    "SELECT id, team_id, channel_id, space_id, flow_id, created_by, created_at, paused_reason "
    "FROM watches"
)
_ADD = (
    "INSERT INTO watches (team_id, channel_id, space_id, flow_id, created_by, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
)
_FOUND = f"{_WATCH} WHERE team_id = $1 AND channel_id = $2 AND space_id = $3 AND flow_id = $4"
_REMOVE = (
    "DELETE FROM watches WHERE team_id = $1 AND channel_id = $2 AND space_id = $3 AND flow_id = $4"
)
_IN_CHANNEL = f"{_WATCH} WHERE team_id = $1 AND channel_id = $2 ORDER BY created_at, id"
_ACTIVE = f"{_WATCH} WHERE paused_reason IS NULL ORDER BY created_at, id"
_COUNT = "SELECT count(*) FROM watches"
_COUNT_IN_CHANNEL = "SELECT count(*) FROM watches WHERE team_id = $1 AND channel_id = $2"
_PAUSE = "UPDATE watches SET paused_reason = $2 WHERE id = $1"
_RESUME = "UPDATE watches SET paused_reason = NULL WHERE id = $1"
_END_WATCHES = "DELETE FROM watches WHERE team_id = $1 AND channel_id = $2"
_END_DELIVERIES = (
    "UPDATE watch_deliveries SET state = $3, reason = $4 "
    "WHERE team_id = $1 AND channel_id = $2 AND state IN ($5, $6)"
)
_END_THREADS = "DELETE FROM watch_threads WHERE team_id = $1 AND channel_id = $2"
_END_FLOW = "DELETE FROM watches WHERE space_id = $1 AND flow_id = $2"

_KNOWN = "SELECT flow_id, name, status, removed FROM flow_states WHERE space_id = $1"
_STATE = "SELECT name, status, removed FROM flow_states WHERE space_id = $1 AND flow_id = $2"
_FIRST_STATE = (
    "INSERT INTO flow_states (space_id, flow_id, name, status, removed, seen_at) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)
_NEXT_STATE = (
    "UPDATE flow_states SET name = $3, status = $4, removed = $5, seen_at = $6 "
    "WHERE space_id = $1 AND flow_id = $2"
)
_CHANGE = (
    "INSERT INTO flow_changes (space_id, flow_id, name, kind, old_status, new_status, seen_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id"
)
# One delivery for each channel actively watching the flow or its space: a channel watching
# both hears of the change once. The casts tell PostgreSQL the types of values it selects.
_DELIVERIES = (
    "INSERT INTO watch_deliveries (change_id, team_id, channel_id, state) "
    "SELECT DISTINCT CAST($1 AS BIGINT), team_id, channel_id, CAST($2 AS TEXT) FROM watches "
    "WHERE space_id = $3 AND flow_id IN ($4, $5) AND paused_reason IS NULL"
)
_LISTED = "INSERT INTO listed_spaces (space_id, listed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING"
_IS_LISTED = "SELECT count(*) FROM listed_spaces WHERE space_id = $1"

# The (channel, flow) pairs a change is being posted to, claimed less than `stale_after` ago.
_BUSY = (
    "SELECT DISTINCT d.team_id, d.channel_id, c.space_id, c.flow_id "
    "FROM watch_deliveries d JOIN flow_changes c ON c.id = d.change_id "
    "WHERE d.state = $1 AND d.claimed_at >= $2"
)
# The oldest claimable change of each (channel, flow) pair, oldest first, with the flow's
# thread in the channel: at most $4 of them.
_CLAIMABLE = (
    "SELECT f.id, f.space_id, f.flow_id, f.name, f.kind, f.old_status, f.new_status, "
    "f.seen_at, o.team_id, o.channel_id, t.parent_ts "
    "FROM ("
    "SELECT min(d.change_id) AS first, d.team_id, d.channel_id, c.space_id, c.flow_id "
    "FROM watch_deliveries d JOIN flow_changes c ON c.id = d.change_id "
    "WHERE d.state = $1 OR (d.state = $2 AND d.claimed_at < $3) "
    "GROUP BY d.team_id, d.channel_id, c.space_id, c.flow_id "
    "ORDER BY first, d.team_id, d.channel_id LIMIT $4"
    ") o "
    "JOIN flow_changes f ON f.id = o.first "
    "LEFT OUTER JOIN watch_threads t ON t.team_id = o.team_id AND t.channel_id = o.channel_id "
    "AND t.space_id = o.space_id AND t.flow_id = o.flow_id "
    "ORDER BY o.first, o.team_id, o.channel_id"
)
_CLAIM = (
    "UPDATE watch_deliveries SET state = $4, claimed_at = $5 "
    "WHERE change_id = $1 AND team_id = $2 AND channel_id = $3"
)
_POSTED = (
    "UPDATE watch_deliveries SET state = $4, posted_at = $5, message_ts = $6 "
    "WHERE change_id = $1 AND team_id = $2 AND channel_id = $3"
)
_FAILED = (
    "UPDATE watch_deliveries SET state = $4, reason = $5 "
    "WHERE change_id = $1 AND team_id = $2 AND channel_id = $3"
)
_RELEASE = (
    "UPDATE watch_deliveries SET state = $4, claimed_at = NULL "
    "WHERE change_id = $1 AND team_id = $2 AND channel_id = $3"
)
_SET_THREAD = (
    "INSERT INTO watch_threads (team_id, channel_id, space_id, flow_id, parent_ts) "
    "VALUES ($1, $2, $3, $4, $5) "
    "ON CONFLICT (team_id, channel_id, space_id, flow_id) "
    "DO UPDATE SET parent_ts = excluded.parent_ts"
)

# Taken when free, when the holder's own, or when another's has expired; otherwise the
# conflict's WHERE leaves it, and no row changes.
_TAKE_LEASE = (
    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = $2 OR leases.expires_at <= $4"
)
_DROP_LEASE = "DELETE FROM leases WHERE name = $1 AND holder = $2"


class ChangeKind(StrEnum):
    """What changed about a flow."""

    STATUS = "status"
    NEW = "new"
    REMOVED = "removed"


class DeliveryState(StrEnum):
    """Where a change's message to one channel stands."""

    PENDING = "pending"
    POSTING = "posting"
    POSTED = "posted"
    FAILED = "failed"


class WatchLimitError(FlowpreviewError):
    """A watch would pass the bound of one channel (`per_channel`) or of all channels."""

    def __init__(self, limit: int, *, per_channel: bool) -> None:
        if per_channel:
            message = (
                f"This channel already has {limit:,} watches, the most a channel may have: "
                "unwatch one to watch another."
            )
        else:
            message = (
                f"flowpreview already keeps {limit:,} watches, the most it may keep: "
                "one must be unwatched, or the bound raised, before another can be added."
            )
        super().__init__(message)
        self.limit = limit
        self.per_channel = per_channel


@dataclass(frozen=True, slots=True)
class Watch:
    """A channel's watch of one flow, or of a whole space when `flow_id` is None.

    `paused_reason` is None while the watch is active.
    """

    id: int
    team_id: str
    channel_id: str
    space_id: str
    flow_id: str | None
    created_by: str
    created_at: datetime
    paused_reason: str | None


@dataclass(frozen=True, slots=True)
class Change:
    """A change seen in a flow: a status went from `old_status` to `new_status` (None where
    unknown or not applicable), a flow appeared, or one was removed."""

    id: int
    space_id: str
    flow_id: str
    name: str
    kind: ChangeKind
    old_status: str | None
    new_status: str | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """A change to post to one channel; `parent_ts` is the flow's thread there, if it has one."""

    change: Change
    team_id: str
    channel_id: str
    parent_ts: str | None


@dataclass(frozen=True, slots=True)
class _State:
    name: str
    status: str | None
    removed: bool


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Watches:
    """Flow watches, flow states, changes, deliveries, threads and leases in the database."""

    def __init__(
        self,
        database: Database,
        *,
        max_per_channel: int = MAX_PER_CHANNEL,
        max_total: int = MAX_TOTAL,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._database = database
        self._max_per_channel = max_per_channel
        self._max_total = max_total
        self._clock = clock

    # Watches

    async def add(
        self, team_id: str, channel_id: str, space_id: str, flow_id: str | None, by: str
    ) -> tuple[Watch, bool]:
        """Watch a flow (or the whole space, `flow_id` None) in the channel: the watch, and
        whether it is new. One already there is returned as it is, paused or not.

        Raises WatchLimitError when the channel, or all channels together, already hold as many
        watches as allowed.
        """
        key = (team_id, channel_id, space_id, flow_id or _WHOLE_SPACE)
        created_at = self._clock()
        async with self._writing(WATCH_LOCK) as connection:
            inserted = await connection.execute(_ADD, *key, by, created_at)
            found = await connection.fetch_one(_FOUND, *key)
            if found is None:
                # Removed between the insert that found it there and this read (PostgreSQL
                # reads each statement afresh): nothing is watched now, and the caller may ask
                # again.
                raise DatabaseError("the watch was removed while it was being added")
            if inserted != 1:
                return _watch(found), False
            in_channel = await _count(connection, _COUNT_IN_CHANNEL, team_id, channel_id)
            # Raised inside the transaction, which takes the insert back with it.
            if in_channel > self._max_per_channel:
                raise WatchLimitError(self._max_per_channel, per_channel=True)
            if await _count(connection, _COUNT) > self._max_total:
                raise WatchLimitError(self._max_total, per_channel=False)
        return _watch(found), True

    async def remove(
        self, team_id: str, channel_id: str, space_id: str, flow_id: str | None
    ) -> bool:
        """Stop the channel's watch of the flow (of the whole space, `flow_id` None): True if
        there was one."""
        key = (team_id, channel_id, space_id, flow_id or _WHOLE_SPACE)
        return await self._write(_REMOVE, *key) > 0

    async def for_channel(self, team_id: str, channel_id: str) -> list[Watch]:
        """The channel's watches, paused ones included, oldest first."""
        return await self._watches(_IN_CHANNEL, team_id, channel_id)

    async def active(self) -> list[Watch]:
        """Every channel's watches that are not paused, oldest first."""
        return await self._watches(_ACTIVE)

    async def count(self) -> int:
        """How many watches all channels hold, paused ones included."""
        async with self._database.connection() as connection:
            return await _count(connection, _COUNT)

    async def pause(self, watch_id: int, reason: str) -> None:
        """Stop the watch hearing of changes (its flow cannot be read, say), saying why; the
        reason is cut to the column's length."""
        await self._write(_PAUSE, watch_id, reason[:REASON_LENGTH])

    async def resume(self, watch_id: int) -> None:
        """Let a paused watch hear of changes again."""
        await self._write(_RESUME, watch_id)

    async def end_channel(self, team_id: str, channel_id: str) -> int:
        """End every watch of a channel the bot can no longer post to (archived, or the bot
        removed): how many there were.

        The channel's undelivered changes are marked failed (CHANNEL_ENDED), so that none is
        tried again, and its threads are forgotten: a later watch starts new ones.
        """
        async with self._database.transaction(write=True) as connection:
            ended = await connection.execute(_END_WATCHES, team_id, channel_id)
            await connection.execute(
                _END_DELIVERIES,
                team_id,
                channel_id,
                DeliveryState.FAILED.value,
                CHANNEL_ENDED,
                DeliveryState.PENDING.value,
                DeliveryState.POSTING.value,
            )
            await connection.execute(_END_THREADS, team_id, channel_id)
        return ended

    async def end_flow(self, space_id: str, flow_id: str) -> int:
        """End every channel's watch of a flow that no longer exists: how many there were.

        Watches of its space go on; changes already recorded, its removal among them, are still
        delivered.
        """
        return await self._write(_END_FLOW, space_id, flow_id)

    # Flow states and changes

    async def known(self, space_id: str) -> dict[str, tuple[str, str | None, bool]]:
        """Each flow of the space seen so far: its ID -> (name, status, removed)."""
        async with self._database.connection() as connection:
            rows = await connection.fetch(_KNOWN, space_id)
        return {flow: (name, status, bool(removed)) for flow, name, status, removed in rows}

    async def observe(
        self,
        space_id: str,
        flow_id: str,
        name: str,
        status: str | None,
        *,
        removed: bool = False,
    ) -> Change | None:
        """Record a look at a flow: the change it shows, if any, with one pending delivery for
        each channel watching it (an active watch of the flow or of its space); None when
        nothing changed.

        A change is a status other than the one stored, a flow removed, or a flow appearing:
        one first seen in a space already `listed`, or one seen again after its removal. A
        flow's first look otherwise only records it. `status` None means the look did not tell
        it: the stored status stays. A new name is stored, and is no change. Name and status
        are cut to their columns' lengths.

        Looking twice at the same state changes nothing, and replicas looking at once record a
        change once: the comparison and the write share one transaction per flow.
        """
        name = name[:NAME_LENGTH]
        status = status[:STATUS_LENGTH] if status is not None else None
        async with self._database.connection() as connection:
            before = await _state(connection, space_id, flow_id)
        # Most looks find nothing new: they cost one read, and take no lock.
        if before is not None and _after(before, name, status, removed) == before:
            return None
        async with self._writing(FLOW_LOCK, _digest(space_id, flow_id)) as connection:
            before = await _state(connection, space_id, flow_id)
            if before is None:
                listed = await _count(connection, _IS_LISTED, space_id)
                kind = ChangeKind.NEW if listed and not removed else None
                first = _State(name, status, removed)
                return await self._store(
                    connection, space_id, flow_id, before=None, after=first, kind=kind
                )
            after = _after(before, name, status, removed)
            if after == before:
                return None
            return await self._store(
                connection, space_id, flow_id, before=before, after=after, kind=_kind(before, after)
            )

    async def listed(self, space_id: str) -> None:
        """Mark the space's flow list as recorded: flows first seen in it from now on are new."""
        await self._write(_LISTED, space_id, self._clock())

    async def is_listed(self, space_id: str) -> bool:
        """Whether the space's flow list was recorded at least once."""
        async with self._database.connection() as connection:
            return bool(await _count(connection, _IS_LISTED, space_id))

    # Deliveries and threads

    async def claim_deliveries(self, limit: int, *, stale_after: float) -> list[Delivery]:
        """Take up to `limit` changes to post, oldest first, each now `posting` for this caller
        alone: pending ones, and ones left posting for more than `stale_after` seconds (by a
        replica that died mid-post). Each comes with its flow's thread in the channel, if any.

        A channel gets one change of a flow at a time: none while an earlier one for it is being
        posted, so that its changes arrive in order and the first one's message, once
        `set_thread` stores it, is the thread of the next.
        """
        if limit <= 0:
            return []
        now = self._clock()
        cutoff = now - timedelta(seconds=stale_after)
        posting = DeliveryState.POSTING.value
        async with self._writing(CLAIM_LOCK) as connection:
            held = set(await connection.fetch(_BUSY, posting, cutoff))
            # At most len(held) of the oldest flows are skipped: fetching that many more fills
            # `limit` whenever there is enough to claim.
            rows = await connection.fetch(
                _CLAIMABLE, DeliveryState.PENDING.value, posting, cutoff, limit + len(held)
            )
            chosen = [row for row in rows if (row[8], row[9], row[1], row[2]) not in held][:limit]
            if not chosen:
                return []
            await connection.execute_many(
                _CLAIM, [(row[0], row[8], row[9], posting, now) for row in chosen]
            )
        return [Delivery(_change(row), row[8], row[9], row[10]) for row in chosen]

    async def posted(self, change_id: int, team_id: str, channel_id: str, message_ts: str) -> None:
        """Record a change posted to the channel, as the message `message_ts`."""
        await self._write(
            _POSTED,
            change_id,
            team_id,
            channel_id,
            DeliveryState.POSTED.value,
            self._clock(),
            message_ts,
        )

    async def failed(self, change_id: int, team_id: str, channel_id: str, reason: str) -> None:
        """Record that a change cannot be posted to the channel, and why (cut to the column's
        length); it is not tried again."""
        await self._write(
            _FAILED,
            change_id,
            team_id,
            channel_id,
            DeliveryState.FAILED.value,
            reason[:REASON_LENGTH],
        )

    async def release(self, change_id: int, team_id: str, channel_id: str) -> None:
        """Put a claimed change back to pending (Slack asked to wait, say): it is claimed again
        by the next `claim_deliveries`."""
        await self._write(_RELEASE, change_id, team_id, channel_id, DeliveryState.PENDING.value)

    async def set_thread(
        self, team_id: str, channel_id: str, space_id: str, flow_id: str, parent_ts: str
    ) -> None:
        """Make the message `parent_ts` the thread of the flow's later changes in the channel
        (replacing the one before, if any)."""
        await self._write(_SET_THREAD, team_id, channel_id, space_id, flow_id, parent_ts)

    # Leases

    async def take_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Hold the lease `name` for `ttl` seconds from now: True if `holder` now holds it (it
        was free, already its own and is renewed, or another's that expired); False while
        another holds it."""
        now = self._clock()
        expires_at = now + timedelta(seconds=ttl)
        return await self._write(_TAKE_LEASE, name, holder, expires_at, now) == 1

    async def drop_lease(self, name: str, holder: str) -> None:
        """Give up the lease `name` if `holder` holds it, so that another may take it at once."""
        await self._write(_DROP_LEASE, name, holder)

    # Helpers

    @asynccontextmanager
    async def _writing(self, *lock: int) -> AsyncIterator[Connection]:
        """A write transaction that one writer at a time holds: SQLite's write lock, or on
        PostgreSQL the advisory lock of `lock` (one key, or a kind and an item)."""
        async with self._database.transaction(write=True) as connection:
            if connection.dialect is Dialect.POSTGRESQL:
                await connection.execute(_LOCK_ONE if len(lock) == 1 else _LOCK_TWO, *lock)
            yield connection

    async def _store(
        self,
        connection: Connection,
        space_id: str,
        flow_id: str,
        *,
        before: _State | None,
        after: _State,
        kind: ChangeKind | None,
    ) -> Change | None:
        """Store the flow's new state and, when it is a change, the change and its deliveries."""
        now = self._clock()
        await connection.execute(
            _FIRST_STATE if before is None else _NEXT_STATE,
            space_id,
            flow_id,
            after.name,
            after.status,
            after.removed,
            now,
        )
        if kind is None:
            return None
        old = before.status if before is not None and kind is not ChangeKind.NEW else None
        new = None if kind is ChangeKind.REMOVED else after.status
        change_id = int(
            await connection.fetch_value(
                _CHANGE, space_id, flow_id, after.name, kind.value, old, new, now
            )
        )
        await connection.execute(
            _DELIVERIES,
            change_id,
            DeliveryState.PENDING.value,
            space_id,
            flow_id,
            _WHOLE_SPACE,
        )
        return Change(change_id, space_id, flow_id, after.name, kind, old, new, now)

    async def _watches(self, sql: str, *args: object) -> list[Watch]:
        async with self._database.connection() as connection:
            rows = await connection.fetch(sql, *args)
        return [_watch(row) for row in rows]

    async def _write(self, sql: str, *args: object) -> int:
        """Run one write in a transaction of its own: how many rows it changed."""
        async with self._database.transaction(write=True) as connection:
            return await connection.execute(sql, *args)


def _watch(row: Row) -> Watch:
    """A watch from a row of _WATCH's columns."""
    watch_id, team_id, channel_id, space_id, flow_id, created_by, created_at, paused = row
    return Watch(
        id=int(watch_id),
        team_id=team_id,
        channel_id=channel_id,
        space_id=space_id,
        flow_id=flow_id or None,
        created_by=created_by,
        created_at=read_time(created_at),
        paused_reason=paused,
    )


def _change(row: Row) -> Change:
    """A change from the first eight columns of a row of _CLAIMABLE."""
    change_id, space_id, flow_id, name, kind, old_status, new_status, seen_at = row[:8]
    return Change(
        id=int(change_id),
        space_id=space_id,
        flow_id=flow_id,
        name=name,
        kind=ChangeKind(kind),
        old_status=old_status,
        new_status=new_status,
        seen_at=read_time(seen_at),
    )


async def _state(connection: Connection, space_id: str, flow_id: str) -> _State | None:
    row = await connection.fetch_one(_STATE, space_id, flow_id)
    if row is None:
        return None
    name, status, removed = row
    return _State(name, status, bool(removed))


def _after(before: _State, name: str, status: str | None, removed: bool) -> _State:
    """The state a look leaves: a look that does not tell the status keeps the one stored."""
    return _State(name, status if status is not None else before.status, removed)


def _kind(before: _State, after: _State) -> ChangeKind | None:
    """What a look that changed the stored state shows, if anything worth telling."""
    if before.removed != after.removed:
        return ChangeKind.REMOVED if after.removed else ChangeKind.NEW
    # Learning a status not known before is no change of it.
    if after.removed or before.status is None or before.status == after.status:
        return None
    return ChangeKind.STATUS


async def _count(connection: Connection, sql: str, *args: object) -> int:
    return int(await connection.fetch_value(sql, *args))


def _digest(space_id: str, flow_id: str) -> int:
    # A 32-bit digest of the flow: flows sharing one merely take turns.
    digest = zlib.crc32(f"{space_id}\x00{flow_id}".encode())
    return digest - (1 << 32) if digest >= 1 << 31 else digest
