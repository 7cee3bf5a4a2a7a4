"""The rule book: allow rules, channel spaces and workspace bindings, kept in the database and
read from memory.

Each process holds a copy of all of them, so that deciding costs no query. A write goes to the
database and replaces this process's copy at once. Other processes (replicas, the command line)
see it when their copy, once older than `cache_s`, is next reloaded: in the background, one
reload at a time, the old copy served meanwhile and kept when the reload fails. Everything kept
is bounded, as every replica holds all of it in memory.

A space ID is kept exactly as written; a write naming one that differs from a space already
named, or configured, only in case or '_' versus '-' is refused (see `space_key`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, text, union, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.access.errors import RuleError, RuleErrorKind
from bot.access.ids import (
    Kind,
    SpaceKeys,
    check_space,
    check_subject,
    check_team,
    look_alike_error,
)
from bot.access.settings import DEFAULT_CACHE_S
from bot.access.snapshot import Rule, RuleSnapshot
from bot.ids import space_key
from bot.lifecycle import AsyncCloseable
from bot.store.engine import WRITE_LOCK, describe_error
from bot.store.schema import ID_LENGTH, access_rules, channel_settings, workspace_spaces

log = logging.getLogger(__name__)

# Any number will do, as long as it is always the same one (and not the migrations' key): on
# PostgreSQL, writers take turns so that two replicas cannot both take a bound's last place.
WRITE_LOCK_KEY = 0x61636373  # "accs"


@dataclass(frozen=True, slots=True)
class Bounds:
    """The most the book keeps of each thing."""

    per_space: int = 10_000
    rules: int = 100_000
    channel_spaces: int = 100_000
    bindings: int = 100_000


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """A rule as the database keeps it: who added it, and when."""

    space_id: str
    kind: Kind
    subject: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Binding:
    """A space a workspace may use in multi-workspace mode."""

    team_id: str
    space_id: str
    created_at: datetime


class RuleBook(AsyncCloseable):
    """The rules in the database, and this process's copy of them.

    `await load()` once before `snapshot()`; `clock` is Unix time, for the age of the copy
    and the time of each change. `known` are the configured spaces (CAMS_SPACES and
    CAMS_CUST_SPACE_ID), whose look-alikes are refused like those of the spaces stored.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        cache_s: float = DEFAULT_CACHE_S,
        clock: Callable[[], float] = time.time,
        bounds: Bounds = Bounds(),
        known: Iterable[str] = (),
    ) -> None:
        self.bounds = bounds
        self._known = SpaceKeys(known)
        self._engine = engine
        self._cache_s = cache_s
        self._clock = clock
        self._snapshot: RuleSnapshot | None = None
        # When the last reload began; None when one is due at once.
        self._checked_at: float | None = None
        self._reloading = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self._closed = False

    async def load(self) -> None:
        """Read everything into memory; raise when the database cannot be read (a database
        error) or holds more than the bounds allow (RuleError, too_many)."""
        await self._reload()

    def snapshot(self) -> RuleSnapshot:
        """The rules as this process last read them, without waiting; starts a reload in the
        background when the copy is older than `cache_s` and none is running.

        Call from the event loop, after `load()`.
        """
        if self._snapshot is None:
            raise RuntimeError("RuleBook.load() has not run")
        due = self._checked_at is None or self._clock() - self._checked_at >= self._cache_s
        idle = self._task is None or self._task.done()
        if due and idle and not self._closed:
            self._task = asyncio.create_task(self._reload_quietly(), name="access-rules-reload")
        return self._snapshot

    async def allow(
        self, space_id: str, kind: Kind, subjects: Iterable[str], *, by: str
    ) -> tuple[str, ...]:
        """Let `subjects` (all of `kind`) preview `space_id`; the subjects newly allowed, in the
        order given (those already allowed are left as they are)."""
        check_space(space_id)
        wanted = tuple(dict.fromkeys(check_subject(kind, subject) for subject in subjects))
        if not wanted:
            raise RuleError(RuleErrorKind.INVALID, "name at least one ID to allow")
        _room(len(wanted), self.bounds.per_space, f"rules for space {space_id!r}")
        same = access_rules.c.space_id == space_id
        of_kind = select(access_rules.c.subject).where(same, access_rules.c.kind == kind.value)
        async with self._writing() as connection:
            await self._not_look_alike(connection, space_id)
            present = set((await connection.scalars(of_kind)).all())
            added = tuple(subject for subject in wanted if subject not in present)
            if added:
                in_space = await _count(connection, access_rules, same)
                _room(in_space + len(added), self.bounds.per_space, f"rules for space {space_id!r}")
                total = await _count(connection, access_rules)
                _room(total + len(added), self.bounds.rules, "rules in all")
                at = self._now()
                rows = [
                    {
                        "space_id": space_id,
                        "kind": kind.value,
                        "subject": subject,
                        "created_by": by[:ID_LENGTH],
                        "created_at": at,
                    }
                    for subject in added
                ]
                await connection.execute(insert(access_rules), rows)
        await self._refresh()
        return added

    async def remove(self, space_id: str, kind: Kind, subject: str) -> bool:
        """Remove one rule; False when there was no such rule."""
        check_space(space_id)
        check_subject(kind, subject)
        return await self._delete(
            access_rules,
            access_rules.c.space_id == space_id,
            access_rules.c.kind == kind.value,
            access_rules.c.subject == subject,
        )

    async def set_channel_space(
        self, team_id: str, channel_id: str, space_id: str, *, by: str
    ) -> None:
        """Make `space_id` the space of commands in the channel that name none."""
        check_team(team_id)
        _check_channel(channel_id)
        check_space(space_id)
        key = (channel_settings.c.team_id == team_id, channel_settings.c.channel_id == channel_id)
        values = {"space_id": space_id, "updated_by": by[:ID_LENGTH], "updated_at": self._now()}
        async with self._writing() as connection:
            await self._not_look_alike(connection, space_id)
            updated = await connection.execute(update(channel_settings).where(*key), values)
            if not updated.rowcount:
                held = await _count(connection, channel_settings)
                _room(held + 1, self.bounds.channel_spaces, "channel spaces")
                row = {"team_id": team_id, "channel_id": channel_id, **values}
                await connection.execute(insert(channel_settings), row)
        await self._refresh()

    async def clear_channel_space(self, team_id: str, channel_id: str) -> bool:
        """Forget the channel's space; False when it had none."""
        check_team(team_id)
        _check_channel(channel_id)
        return await self._delete(
            channel_settings,
            channel_settings.c.team_id == team_id,
            channel_settings.c.channel_id == channel_id,
        )

    async def bind(self, team_id: str, space_id: str) -> bool:
        """Let the workspace use the space (multi-workspace mode); False when it already could."""
        check_team(team_id)
        check_space(space_id)
        key = (workspace_spaces.c.team_id == team_id, workspace_spaces.c.space_id == space_id)
        async with self._writing() as connection:
            await self._not_look_alike(connection, space_id)
            if await _count(connection, workspace_spaces, *key):
                return False
            held = await _count(connection, workspace_spaces)
            _room(held + 1, self.bounds.bindings, "workspace bindings")
            row = {"team_id": team_id, "space_id": space_id, "created_at": self._now()}
            await connection.execute(insert(workspace_spaces), row)
        await self._refresh()
        return True

    async def unbind(self, team_id: str, space_id: str) -> bool:
        """Stop the workspace using the space; False when it was not bound to it."""
        check_team(team_id)
        check_space(space_id)
        return await self._delete(
            workspace_spaces,
            workspace_spaces.c.team_id == team_id,
            workspace_spaces.c.space_id == space_id,
        )

    async def rules(self, space_id: str | None = None) -> list[RuleRecord]:
        """The rules as the database holds them now (of `space_id` when given), by space,
        kind and subject."""
        table = access_rules
        statement = (
            select(table)
            .order_by(table.c.space_id, table.c.kind, table.c.subject)
            .limit(self.bounds.rules)
        )
        if space_id is not None:
            statement = statement.where(table.c.space_id == space_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [
            RuleRecord(
                row["space_id"],
                Kind(row["kind"]),
                row["subject"],
                row["created_by"],
                row["created_at"],
            )
            for row in rows
        ]

    async def bindings(self, space_id: str | None = None) -> list[Binding]:
        """The workspace bindings as the database holds them now (to `space_id` when given), by
        space and team."""
        table = workspace_spaces
        statement = (
            select(table).order_by(table.c.space_id, table.c.team_id).limit(self.bounds.bindings)
        )
        if space_id is not None:
            statement = statement.where(table.c.space_id == space_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(statement)).mappings().all()
        return [Binding(row["team_id"], row["space_id"], row["created_at"]) for row in rows]

    async def close(self) -> None:
        """Stop a reload in progress and start no more (the copy in hand is still served); the
        engine is the caller's to dispose of."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _delete(self, table: Any, *where: Any) -> bool:
        """Delete the rows of `table` matching `where`; whether there were any."""
        async with self._writing() as connection:
            result = await connection.execute(delete(table).where(*where))
        await self._refresh()
        return bool(result.rowcount)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        # One writer at a time, so that a bound checked is still true when the insert lands:
        # SQLite's IMMEDIATE transaction, PostgreSQL's advisory lock.
        async with self._engine.connect() as connection:
            await connection.execution_options(**{WRITE_LOCK: True})
            async with connection.begin():
                if connection.dialect.name == "postgresql":
                    await connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": WRITE_LOCK_KEY}
                    )
                yield connection

    def configured_look_alike(self, space_id: str) -> str | None:
        """The configured space that `space_id` differs from only in case or '_' versus '-';
        None when there is none, or `space_id` is itself configured."""
        return self._known.look_alike(space_id)

    async def _not_look_alike(self, connection: AsyncConnection, space_id: str) -> None:
        """Raise RuleError (look_alike) when `space_id` differs from a configured space, or one
        the database names, only in case or '_' versus '-'; inside the write's transaction, so
        that two writers cannot each add one spelling."""
        twin = self.configured_look_alike(space_id)
        if twin is None:
            twin = await _stored_look_alike(connection, space_id)
        if twin is not None:
            raise look_alike_error(space_id, twin)

    async def _reload(self) -> None:
        async with self._reloading:
            # Stamped before reading: the copy holds every change made before this moment, so
            # its age never understates how stale it may be.
            self._checked_at = self._clock()
            self._snapshot = await self._read()

    async def _reload_quietly(self) -> None:
        try:
            await self._reload()
        # Whatever went wrong (the database, a bound), the copy in hand stays in use and the
        # next reload is due a cache period later; one warning per spell of failures.
        except Exception as exc:
            if not self._failing:
                log.warning("access rules: cannot reload, keeping the copy in hand: %s", _why(exc))
                self._failing = True
            return
        if self._failing:
            log.warning("access rules: reloading again")
            self._failing = False

    async def _refresh(self) -> None:
        # After a write: only a process that holds a copy (has loaded) keeps it current.
        if self._snapshot is None:
            return
        await self._reload_quietly()
        if self._failing:
            # The write is done; the copy is not. The next snapshot() tries again.
            self._checked_at = None

    async def _read(self) -> RuleSnapshot:
        bounds = self.bounds
        rules = access_rules.c
        channels = channel_settings.c
        async with self._engine.connect() as connection:
            rule_rows = await _fetch(
                connection, (rules.space_id, rules.kind, rules.subject), bounds.rules, "rules"
            )
            channel_rows = await _fetch(
                connection,
                (channels.team_id, channels.channel_id, channels.space_id),
                bounds.channel_spaces,
                "channel spaces",
            )
            binding_rows = await _fetch(
                connection,
                (workspace_spaces.c.team_id, workspace_spaces.c.space_id),
                bounds.bindings,
                "workspace bindings",
            )
        return RuleSnapshot(
            (Rule(space, Kind(kind), subject) for space, kind, subject in rule_rows),
            {(team, channel): space for team, channel, space in channel_rows},
            ((team, space) for team, space in binding_rows),
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


async def _count(connection: AsyncConnection, table: Any, *where: Any) -> int:
    statement = select(func.count()).select_from(table).where(*where)
    return int((await connection.execute(statement)).scalar_one())


def _room(count: int, bound: int, what: str) -> None:
    if count > bound:
        raise RuleError(RuleErrorKind.TOO_MANY, f"{what} would number {count:,}; at most {bound:,}")


async def _fetch(
    connection: AsyncConnection, columns: Sequence[Any], bound: int, what: str
) -> list[tuple[str, ...]]:
    # One row past the bound tells a table filled beyond it (by hand, or by another version)
    # from one filled to it.
    rows = (await connection.execute(select(*columns).limit(bound + 1))).all()
    if len(rows) > bound:
        raise RuleError(
            RuleErrorKind.TOO_MANY,
            f"the database holds more than {bound:,} {what}; at most that many can be loaded",
        )
    return [tuple(row) for row in rows]


async def _stored_look_alike(connection: AsyncConnection, space_id: str) -> str | None:
    """A space the database names that `space_id` is a look-alike of, if any.

    SQLite's and PostgreSQL's lower() agree on the ASCII letters that space IDs are made of.
    """
    columns = (
        access_rules.c.space_id,
        channel_settings.c.space_id,
        workspace_spaces.c.space_id,
    )
    key = literal(space_key(space_id))
    named = union(
        *(
            select(column.label("space_id")).where(
                func.lower(func.replace(column, "_", "-")) == key
            )
            for column in columns
        )
    ).subquery()
    spellings: set[str] = set((await connection.scalars(select(named.c.space_id))).all())
    if not spellings or space_id in spellings:
        return None
    return min(spellings)


def _check_channel(channel_id: str) -> None:
    check_subject(Kind.CHANNEL, channel_id)


def _why(exc: Exception) -> str:
    return exc.message if isinstance(exc, RuleError) else describe_error(exc)
