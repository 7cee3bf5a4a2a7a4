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
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

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
from bot.store.database import (
    Connection,
    Database,
    Dialect,
    Row,
    one_line,
    read_time,
)
from bot.store.limits import ID_LENGTH

log = logging.getLogger(__name__)

# Any number will do, as long as it is always the same one (and not the migrations' key): on
# PostgreSQL, writers take turns so that two replicas cannot both take a bound's last place.
WRITE_LOCK_KEY = 0x61636373  # "accs"
_LOCK = "SELECT pg_advisory_xact_lock($1)"

_SUBJECTS = "SELECT subject FROM access_rules WHERE space_id = $1 AND kind = $2"
_COUNT_IN_SPACE = "SELECT count(*) FROM access_rules WHERE space_id = $1"
_COUNT_RULES = "SELECT count(*) FROM access_rules"
_INSERT_RULE = (
    "INSERT INTO access_rules (space_id, kind, subject, created_by, created_at) "
    "VALUES ($1, $2, $3, $4, $5)"
)
_DELETE_RULE = "DELETE FROM access_rules WHERE space_id = $1 AND kind = $2 AND subject = $3"
_UPDATE_CHANNEL = (
    "UPDATE channel_settings SET space_id = $3, updated_by = $4, updated_at = $5 "
    "WHERE team_id = $1 AND channel_id = $2"
)
_COUNT_CHANNELS = "SELECT count(*) FROM channel_settings"
_INSERT_CHANNEL = (
    "INSERT INTO channel_settings (team_id, channel_id, space_id, updated_by, updated_at) "
    "VALUES ($1, $2, $3, $4, $5)"
)
_DELETE_CHANNEL = "DELETE FROM channel_settings WHERE team_id = $1 AND channel_id = $2"
_IS_BOUND = "SELECT count(*) FROM workspace_spaces WHERE team_id = $1 AND space_id = $2"
_COUNT_BINDINGS = "SELECT count(*) FROM workspace_spaces"
_INSERT_BINDING = "INSERT INTO workspace_spaces (team_id, space_id, created_at) VALUES ($1, $2, $3)"
_DELETE_BINDING = "DELETE FROM workspace_spaces WHERE team_id = $1 AND space_id = $2"
# What rules() and bindings() list: $1 is the bound, $2 the space.
_RULE_RECORDS = "SELECT space_id, kind, subject, created_by, created_at FROM access_rules"
_RULE_ORDER = " ORDER BY space_id, kind, subject LIMIT $1"
_BINDING_RECORDS = "SELECT team_id, space_id, created_at FROM workspace_spaces"
_BINDING_ORDER = " ORDER BY space_id, team_id LIMIT $1"
_OF_SPACE = " WHERE space_id = $2"
# What a reload reads; $1 is one more than the bound.
_READ_RULES = "SELECT space_id, kind, subject FROM access_rules LIMIT $1"
_READ_CHANNELS = "SELECT team_id, channel_id, space_id FROM channel_settings LIMIT $1"
_READ_BINDINGS = "SELECT team_id, space_id FROM workspace_spaces LIMIT $1"
# The spaces the database names whose space_key is $1. SQLite's and PostgreSQL's lower() agree
# on the ASCII letters that space IDs are made of.
_SPELLINGS = (
    "SELECT space_id FROM access_rules WHERE lower(replace(space_id, '_', '-')) = $1 "
    "UNION SELECT space_id FROM channel_settings WHERE lower(replace(space_id, '_', '-')) = $1 "
    "UNION SELECT space_id FROM workspace_spaces WHERE lower(replace(space_id, '_', '-')) = $1"
)


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
        database: Database,
        *,
        cache_s: float = DEFAULT_CACHE_S,
        clock: Callable[[], float] = time.time,
        bounds: Bounds = Bounds(),
        known: Iterable[str] = (),
    ) -> None:
        self.bounds = bounds
        self._known = SpaceKeys(known)
        self._database = database
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
        async with self._writing() as connection:
            await self._not_look_alike(connection, space_id)
            present = {row[0] for row in await connection.fetch(_SUBJECTS, space_id, kind.value)}
            added = tuple(subject for subject in wanted if subject not in present)
            if added:
                in_space = await _count(connection, _COUNT_IN_SPACE, space_id)
                _room(in_space + len(added), self.bounds.per_space, f"rules for space {space_id!r}")
                total = await _count(connection, _COUNT_RULES)
                _room(total + len(added), self.bounds.rules, "rules in all")
                at = self._now()
                rows = [(space_id, kind.value, subject, by[:ID_LENGTH], at) for subject in added]
                await connection.execute_many(_INSERT_RULE, rows)
        await self._refresh()
        return added

    async def remove(self, space_id: str, kind: Kind, subject: str) -> bool:
        """Remove one rule; False when there was no such rule."""
        check_space(space_id)
        check_subject(kind, subject)
        return await self._delete(_DELETE_RULE, space_id, kind.value, subject)

    async def set_channel_space(
        self, team_id: str, channel_id: str, space_id: str, *, by: str
    ) -> None:
        """Make `space_id` the space of commands in the channel that name none."""
        check_team(team_id)
        _check_channel(channel_id)
        check_space(space_id)
        row = (team_id, channel_id, space_id, by[:ID_LENGTH], self._now())
        async with self._writing() as connection:
            await self._not_look_alike(connection, space_id)
            if not await connection.execute(_UPDATE_CHANNEL, *row):
                held = await _count(connection, _COUNT_CHANNELS)
                _room(held + 1, self.bounds.channel_spaces, "channel spaces")
                await connection.execute(_INSERT_CHANNEL, *row)
        await self._refresh()

    async def clear_channel_space(self, team_id: str, channel_id: str) -> bool:
        """Forget the channel's space; False when it had none."""
        check_team(team_id)
        _check_channel(channel_id)
        return await self._delete(_DELETE_CHANNEL, team_id, channel_id)

    async def bind(self, team_id: str, space_id: str) -> bool:
        """Let the workspace use the space (multi-workspace mode); False when it already could."""
        check_team(team_id)
        check_space(space_id)
        async with self._writing() as connection:
            await self._not_look_alike(connection, space_id)
            if await _count(connection, _IS_BOUND, team_id, space_id):
                return False
            held = await _count(connection, _COUNT_BINDINGS)
            _room(held + 1, self.bounds.bindings, "workspace bindings")
            await connection.execute(_INSERT_BINDING, team_id, space_id, self._now())
        await self._refresh()
        return True

    async def unbind(self, team_id: str, space_id: str) -> bool:
        """Stop the workspace using the space; False when it was not bound to it."""
        check_team(team_id)
        check_space(space_id)
        return await self._delete(_DELETE_BINDING, team_id, space_id)

    async def rules(self, space_id: str | None = None) -> list[RuleRecord]:
        """The rules as the database holds them now (of `space_id` when given), by space,
        kind and subject."""
        rows = await self._listed(_RULE_RECORDS, _RULE_ORDER, self.bounds.rules, space_id)
        return [
            RuleRecord(space, Kind(kind), subject, by, read_time(at))
            for space, kind, subject, by, at in rows
        ]

    async def bindings(self, space_id: str | None = None) -> list[Binding]:
        """The workspace bindings as the database holds them now (to `space_id` when given), by
        space and team."""
        rows = await self._listed(_BINDING_RECORDS, _BINDING_ORDER, self.bounds.bindings, space_id)
        return [Binding(team, space, read_time(at)) for team, space, at in rows]

    async def close(self) -> None:
        """Stop a reload in progress and start no more (the copy in hand is still served); the
        database is the caller's to close."""
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _listed(self, select: str, order: str, bound: int, space_id: str | None) -> list[Row]:
        """The rows of `select` in `order`, at most `bound`; of `space_id` when given."""
        async with self._database.connection() as connection:
            if space_id is None:
                return await connection.fetch(select + order, bound)
            return await connection.fetch(select + _OF_SPACE + order, bound, space_id)

    async def _delete(self, statement: str, *args: object) -> bool:
        """Run the DELETE `statement`; whether it deleted any row."""
        async with self._writing() as connection:
            deleted = await connection.execute(statement, *args)
        await self._refresh()
        return bool(deleted)

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[Connection]:
        # One writer at a time, so that a bound checked is still true when the insert lands:
        # SQLite's IMMEDIATE transaction, PostgreSQL's advisory lock.
        async with self._database.transaction(write=True) as connection:
            if connection.dialect is Dialect.POSTGRESQL:
                await connection.execute(_LOCK, WRITE_LOCK_KEY)
            yield connection

    def configured_look_alike(self, space_id: str) -> str | None:
        """The configured space that `space_id` differs from only in case or '_' versus '-';
        None when there is none, or `space_id` is itself configured."""
        return self._known.look_alike(space_id)

    async def _not_look_alike(self, connection: Connection, space_id: str) -> None:
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
        # One transaction: the three reads see one state of the tables.
        async with self._database.transaction() as connection:
            rule_rows = await _fetch(connection, _READ_RULES, bounds.rules, "rules")
            channel_rows = await _fetch(
                connection, _READ_CHANNELS, bounds.channel_spaces, "channel spaces"
            )
            binding_rows = await _fetch(
                connection, _READ_BINDINGS, bounds.bindings, "workspace bindings"
            )
        return RuleSnapshot(
            (Rule(space, Kind(kind), subject) for space, kind, subject in rule_rows),
            {(team, channel): space for team, channel, space in channel_rows},
            ((team, space) for team, space in binding_rows),
        )

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)


async def _count(connection: Connection, statement: str, *args: object) -> int:
    return int(await connection.fetch_value(statement, *args))


def _room(count: int, bound: int, what: str) -> None:
    if count > bound:
        raise RuleError(RuleErrorKind.TOO_MANY, f"{what} would number {count:,}; at most {bound:,}")


async def _fetch(connection: Connection, statement: str, bound: int, what: str) -> list[Row]:
    # One row past the bound tells a table filled beyond it (by hand, or by another version)
    # from one filled to it.
    rows = await connection.fetch(statement, bound + 1)
    if len(rows) > bound:
        raise RuleError(
            RuleErrorKind.TOO_MANY,
            f"the database holds more than {bound:,} {what}; at most that many can be loaded",
        )
    return rows


async def _stored_look_alike(connection: Connection, space_id: str) -> str | None:
    """A space the database names that `space_id` is a look-alike of, if any."""
    spellings: set[str] = {
        row[0] for row in await connection.fetch(_SPELLINGS, space_key(space_id))
    }
    if not spellings or space_id in spellings:
        return None
    return min(spellings)


def _check_channel(channel_id: str) -> None:
    check_subject(Kind.CHANNEL, channel_id)


def _why(exc: Exception) -> str:
    if isinstance(exc, RuleError):
        return exc.message
    return one_line(exc)
