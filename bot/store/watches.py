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
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    bindparam,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import FlowpreviewError
from bot.store.engine import WRITE_LOCK
from bot.store.schema import (
    NAME_LENGTH,
    REASON_LENGTH,
    STATUS_LENGTH,
    flow_changes,
    flow_states,
    leases,
    listed_spaces,
    watch_deliveries,
    watch_threads,
    watches,
)
from bot.store.upsert import insert_new, upsert

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

_LOCK_ONE = text("SELECT pg_advisory_xact_lock(:key)").bindparams(
    bindparam("key", type_=BigInteger())
)
_LOCK_TWO = text("SELECT pg_advisory_xact_lock(:kind, :item)").bindparams(
    bindparam("kind", type_=Integer()), bindparam("item", type_=Integer())
)


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
        engine: AsyncEngine,
        *,
        max_per_channel: int = MAX_PER_CHANNEL,
        max_total: int = MAX_TOTAL,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        # On SQLite a write takes the lock at once: a write that read first could otherwise be
        # refused its write, or act on a row another writer is about to change.
        self._writer = engine.execution_options(**{WRITE_LOCK: True})
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
        key = _watch_key(team_id, channel_id, space_id, flow_id)
        row = {
            "team_id": team_id,
            "channel_id": channel_id,
            "space_id": space_id,
            "flow_id": flow_id or _WHOLE_SPACE,
            "created_by": by,
            "created_at": self._clock(),
        }
        async with self._writing(WATCH_LOCK) as connection:
            inserted = await connection.execute(insert_new(connection, watches).values(row))
            found = (await connection.execute(select(watches).where(*key))).mappings().one()
            if inserted.rowcount != 1:
                return _watch(found), False
            in_channel = await _count(
                connection, watches, *_in_channel(watches, team_id, channel_id)
            )
            # Raised inside the transaction, which takes the insert back with it.
            if in_channel > self._max_per_channel:
                raise WatchLimitError(self._max_per_channel, per_channel=True)
            if await _count(connection, watches) > self._max_total:
                raise WatchLimitError(self._max_total, per_channel=False)
        return _watch(found), True

    async def remove(
        self, team_id: str, channel_id: str, space_id: str, flow_id: str | None
    ) -> bool:
        """Stop the channel's watch of the flow (of the whole space, `flow_id` None): True if
        there was one."""
        key = _watch_key(team_id, channel_id, space_id, flow_id)
        return await self._delete(watches, *key) > 0

    async def for_channel(self, team_id: str, channel_id: str) -> list[Watch]:
        """The channel's watches, paused ones included, oldest first."""
        statement = (
            select(watches)
            .where(*_in_channel(watches, team_id, channel_id))
            .order_by(watches.c.created_at, watches.c.id)
        )
        return await self._watches(statement)

    async def active(self) -> list[Watch]:
        """Every channel's watches that are not paused, oldest first."""
        statement = (
            select(watches)
            .where(watches.c.paused_reason.is_(None))
            .order_by(watches.c.created_at, watches.c.id)
        )
        return await self._watches(statement)

    async def count(self) -> int:
        """How many watches all channels hold, paused ones included."""
        async with self._engine.connect() as connection:
            return await _count(connection, watches)

    async def pause(self, watch_id: int, reason: str) -> None:
        """Stop the watch hearing of changes (its flow cannot be read, say), saying why; the
        reason is cut to the column's length."""
        await self._update(
            update(watches)
            .where(watches.c.id == watch_id)
            .values(paused_reason=reason[:REASON_LENGTH])
        )

    async def resume(self, watch_id: int) -> None:
        """Let a paused watch hear of changes again."""
        await self._update(
            update(watches).where(watches.c.id == watch_id).values(paused_reason=None)
        )

    async def end_channel(self, team_id: str, channel_id: str) -> int:
        """End every watch of a channel the bot can no longer post to (archived, or the bot
        removed): how many there were.

        The channel's undelivered changes are marked failed (CHANNEL_ENDED), so that none is
        tried again, and its threads are forgotten: a later watch starts new ones.
        """
        async with self._writer.begin() as connection:
            ended = await connection.execute(
                delete(watches).where(*_in_channel(watches, team_id, channel_id))
            )
            await connection.execute(
                update(watch_deliveries)
                .where(
                    *_in_channel(watch_deliveries, team_id, channel_id),
                    watch_deliveries.c.state.in_((DeliveryState.PENDING, DeliveryState.POSTING)),
                )
                .values(state=DeliveryState.FAILED, reason=CHANNEL_ENDED)
            )
            await connection.execute(
                delete(watch_threads).where(*_in_channel(watch_threads, team_id, channel_id))
            )
        return int(ended.rowcount)

    async def end_flow(self, space_id: str, flow_id: str) -> int:
        """End every channel's watch of a flow that no longer exists: how many there were.

        Watches of its space go on; changes already recorded, its removal among them, are still
        delivered.
        """
        return await self._delete(
            watches, watches.c.space_id == space_id, watches.c.flow_id == flow_id
        )

    # Flow states and changes

    async def known(self, space_id: str) -> dict[str, tuple[str, str | None, bool]]:
        """Each flow of the space seen so far: its ID -> (name, status, removed)."""
        columns = flow_states.c
        statement = select(columns.flow_id, columns.name, columns.status, columns.removed).where(
            columns.space_id == space_id
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).all()
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
        async with self._engine.connect() as connection:
            before = await _state(connection, space_id, flow_id)
        # Most looks find nothing new: they cost one read, and take no lock.
        if before is not None and _after(before, name, status, removed) == before:
            return None
        async with self._writing(FLOW_LOCK, _digest(space_id, flow_id)) as connection:
            before = await _state(connection, space_id, flow_id)
            if before is None:
                listed = await _count(
                    connection, listed_spaces, listed_spaces.c.space_id == space_id
                )
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
        row = {"space_id": space_id, "listed_at": self._clock()}
        async with self._writer.begin() as connection:
            await connection.execute(insert_new(connection, listed_spaces).values(row))

    async def is_listed(self, space_id: str) -> bool:
        """Whether the space's flow list was recorded at least once."""
        async with self._engine.connect() as connection:
            return bool(
                await _count(connection, listed_spaces, listed_spaces.c.space_id == space_id)
            )

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
        deliveries, changes = watch_deliveries.c, flow_changes.c
        joined = watch_deliveries.join(flow_changes, changes.id == deliveries.change_id)
        posting = deliveries.state == DeliveryState.POSTING
        busy = select(deliveries.team_id, deliveries.channel_id, changes.space_id, changes.flow_id)
        busy = busy.select_from(joined).where(posting, deliveries.claimed_at >= cutoff).distinct()
        claimable = or_(
            deliveries.state == DeliveryState.PENDING, posting & (deliveries.claimed_at < cutoff)
        )
        first = func.min(deliveries.change_id).label("first")
        groups = (deliveries.team_id, deliveries.channel_id, changes.space_id, changes.flow_id)
        async with self._writing(CLAIM_LOCK) as connection:
            held = {tuple(row) for row in await connection.execute(busy)}
            # At most len(held) of the oldest flows are skipped: fetching that many more fills
            # `limit` whenever there is enough to claim.
            oldest = (
                select(first, *groups)
                .select_from(joined)
                .where(claimable)
                .group_by(*groups)
                .order_by(first)
                .limit(limit + len(held))
            )
            rows = (await connection.execute(oldest)).all()
            chosen = [
                (change, team, channel)
                for change, team, channel, space, flow in rows
                if (team, channel, space, flow) not in held
            ][:limit]
            if not chosen:
                return []
            picked = tuple_(deliveries.change_id, deliveries.team_id, deliveries.channel_id).in_(
                chosen
            )
            await connection.execute(
                update(watch_deliveries)
                .where(picked)
                .values(state=DeliveryState.POSTING, claimed_at=now)
            )
            threads = watch_threads.c
            detailed = (
                select(flow_changes, deliveries.team_id, deliveries.channel_id, threads.parent_ts)
                .select_from(
                    joined.outerjoin(
                        watch_threads,
                        (threads.team_id == deliveries.team_id)
                        & (threads.channel_id == deliveries.channel_id)
                        & (threads.space_id == changes.space_id)
                        & (threads.flow_id == changes.flow_id),
                    )
                )
                .where(picked)
                .order_by(deliveries.change_id, deliveries.team_id, deliveries.channel_id)
            )
            found = (await connection.execute(detailed)).mappings().all()
        return [
            Delivery(_change(row), row["team_id"], row["channel_id"], row["parent_ts"])
            for row in found
        ]

    async def posted(self, change_id: int, team_id: str, channel_id: str, message_ts: str) -> None:
        """Record a change posted to the channel, as the message `message_ts`."""
        await self._settle(
            change_id,
            team_id,
            channel_id,
            state=DeliveryState.POSTED,
            posted_at=self._clock(),
            message_ts=message_ts,
        )

    async def failed(self, change_id: int, team_id: str, channel_id: str, reason: str) -> None:
        """Record that a change cannot be posted to the channel, and why (cut to the column's
        length); it is not tried again."""
        await self._settle(
            change_id,
            team_id,
            channel_id,
            state=DeliveryState.FAILED,
            reason=reason[:REASON_LENGTH],
        )

    async def release(self, change_id: int, team_id: str, channel_id: str) -> None:
        """Put a claimed change back to pending (Slack asked to wait, say): it is claimed again
        by the next `claim_deliveries`."""
        await self._settle(
            change_id, team_id, channel_id, state=DeliveryState.PENDING, claimed_at=None
        )

    async def set_thread(
        self, team_id: str, channel_id: str, space_id: str, flow_id: str, parent_ts: str
    ) -> None:
        """Make the message `parent_ts` the thread of the flow's later changes in the channel
        (replacing the one before, if any)."""
        row = {
            "team_id": team_id,
            "channel_id": channel_id,
            "space_id": space_id,
            "flow_id": flow_id,
            "parent_ts": parent_ts,
        }
        async with self._writer.begin() as connection:
            statement = upsert(connection, watch_threads).values(row)
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=list(watch_threads.primary_key.columns),
                    set_={"parent_ts": statement.excluded.parent_ts},
                )
            )

    # Leases

    async def take_lease(self, name: str, holder: str, ttl: float) -> bool:
        """Hold the lease `name` for `ttl` seconds from now: True if `holder` now holds it (it
        was free, already its own and is renewed, or another's that expired); False while
        another holds it."""
        now = self._clock()
        row = {"name": name, "holder": holder, "expires_at": now + timedelta(seconds=ttl)}
        async with self._writer.begin() as connection:
            statement = upsert(connection, leases).values(row)
            taken = await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[leases.c.name],
                    set_={
                        "holder": statement.excluded.holder,
                        "expires_at": statement.excluded.expires_at,
                    },
                    where=or_(leases.c.holder == holder, leases.c.expires_at <= now),
                )
            )
        return taken.rowcount == 1

    async def drop_lease(self, name: str, holder: str) -> None:
        """Give up the lease `name` if `holder` holds it, so that another may take it at once."""
        await self._delete(leases, leases.c.name == name, leases.c.holder == holder)

    # Helpers

    @asynccontextmanager
    async def _writing(self, *lock: int) -> AsyncIterator[AsyncConnection]:
        """A write transaction that one writer at a time holds: SQLite's write lock, or on
        PostgreSQL the advisory lock of `lock` (one key, or a kind and an item)."""
        async with self._writer.begin() as connection:
            if connection.dialect.name == "postgresql":
                if len(lock) == 1:
                    await connection.execute(_LOCK_ONE, {"key": lock[0]})
                else:
                    await connection.execute(_LOCK_TWO, {"kind": lock[0], "item": lock[1]})
            yield connection

    async def _store(
        self,
        connection: AsyncConnection,
        space_id: str,
        flow_id: str,
        *,
        before: _State | None,
        after: _State,
        kind: ChangeKind | None,
    ) -> Change | None:
        """Store the flow's new state and, when it is a change, the change and its deliveries."""
        now = self._clock()
        values = {
            "name": after.name,
            "status": after.status,
            "removed": after.removed,
            "seen_at": now,
        }
        if before is None:
            row = {"space_id": space_id, "flow_id": flow_id, **values}
            await connection.execute(flow_states.insert().values(row))
        else:
            await connection.execute(
                update(flow_states)
                .where(flow_states.c.space_id == space_id, flow_states.c.flow_id == flow_id)
                .values(values)
            )
        if kind is None:
            return None
        old = before.status if before is not None and kind is not ChangeKind.NEW else None
        new = None if kind is ChangeKind.REMOVED else after.status
        row = {
            "space_id": space_id,
            "flow_id": flow_id,
            "name": after.name,
            "kind": kind.value,
            "old_status": old,
            "new_status": new,
            "seen_at": now,
        }
        inserted = flow_changes.insert().values(row).returning(flow_changes.c.id)
        change_id = int((await connection.execute(inserted)).scalar_one())
        # A channel watching both the flow and its space hears of the change once.
        watchers = (
            select(
                cast(literal(change_id), BigInteger()),
                watches.c.team_id,
                watches.c.channel_id,
                cast(literal(DeliveryState.PENDING.value), String()),
            )
            .where(
                watches.c.space_id == space_id,
                watches.c.flow_id.in_((flow_id, _WHOLE_SPACE)),
                watches.c.paused_reason.is_(None),
            )
            .distinct()
        )
        await connection.execute(
            watch_deliveries.insert().from_select(
                ["change_id", "team_id", "channel_id", "state"], watchers
            )
        )
        return Change(change_id, space_id, flow_id, after.name, kind, old, new, now)

    async def _watches(self, statement: Any) -> list[Watch]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [_watch(row) for row in rows]

    async def _delete(self, table: Table, *where: Any) -> int:
        async with self._writer.begin() as connection:
            deleted = await connection.execute(delete(table).where(*where))
        return int(deleted.rowcount)

    async def _update(self, statement: Any) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(statement)

    async def _settle(self, change_id: int, team_id: str, channel_id: str, **values: Any) -> None:
        await self._update(
            update(watch_deliveries)
            .where(
                watch_deliveries.c.change_id == change_id,
                watch_deliveries.c.team_id == team_id,
                watch_deliveries.c.channel_id == channel_id,
            )
            .values(values)
        )


def _watch_key(
    team_id: str, channel_id: str, space_id: str, flow_id: str | None
) -> tuple[Any, ...]:
    return (
        watches.c.team_id == team_id,
        watches.c.channel_id == channel_id,
        watches.c.space_id == space_id,
        watches.c.flow_id == (flow_id or _WHOLE_SPACE),
    )


def _in_channel(table: Table, team_id: str, channel_id: str) -> tuple[Any, Any]:
    return table.c.team_id == team_id, table.c.channel_id == channel_id


def _watch(row: Any) -> Watch:
    return Watch(
        id=int(row["id"]),
        team_id=row["team_id"],
        channel_id=row["channel_id"],
        space_id=row["space_id"],
        flow_id=row["flow_id"] or None,
        created_by=row["created_by"],
        created_at=row["created_at"],
        paused_reason=row["paused_reason"],
    )


def _change(row: Any) -> Change:
    return Change(
        id=int(row["id"]),
        space_id=row["space_id"],
        flow_id=row["flow_id"],
        name=row["name"],
        kind=ChangeKind(row["kind"]),
        old_status=row["old_status"],
        new_status=row["new_status"],
        seen_at=row["seen_at"],
    )


async def _state(connection: AsyncConnection, space_id: str, flow_id: str) -> _State | None:
    columns = flow_states.c
    statement = select(columns.name, columns.status, columns.removed).where(
        columns.space_id == space_id, columns.flow_id == flow_id
    )
    row = (await connection.execute(statement)).first()
    return None if row is None else _State(row.name, row.status, bool(row.removed))


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


async def _count(connection: AsyncConnection, table: Table, *where: Any) -> int:
    statement = select(func.count()).select_from(table).where(*where)
    return int((await connection.execute(statement)).scalar_one())


def _digest(space_id: str, flow_id: str) -> int:
    # A 32-bit digest of the flow: flows sharing one merely take turns.
    digest = zlib.crc32(f"{space_id}\x00{flow_id}".encode())
    return digest - (1 << 32) if digest >= 1 << 31 else digest
