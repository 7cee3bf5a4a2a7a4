"""The rule book on SQLite and PostgreSQL: writes, the copy in memory, its reloads, the bounds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from bot.access.errors import RuleError, RuleErrorKind
from bot.access.ids import Kind
from bot.access.rules import Binding, Bounds, RuleBook, RuleRecord
from bot.access.snapshot import RuleSnapshot
from bot.store.database import Connection, Database, DatabaseError, Row
from bot.store.migrate import bring_up_to_date
from bot.store.opening import open_database
from bot.store.settings import StoreSettings
from tests.fake_clock import FakeClock, eventually
from tests.shared.store import database_for, settings_for

CACHE_S = 10.0
SPACE = "space-a"
OTHER_SPACE = "space-b"
TEAM = "T0001"
CHANNEL = "C0001"
ADMIN = "U0ADMIN"

# How a reload's read of the rules begins.
RULE_READ = "SELECT space_id, kind, subject FROM access_rules LIMIT"


class _Watched(Database):
    """A database, and the statements sent to it and the errors they met, as they happen."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect = database.dialect
        self.statements: list[str] = []
        self.failures: list[DatabaseError] = []

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Connection]:
        async with self.database.transaction(write=write) as connection:
            yield _WatchedConnection(connection, self)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        async with self.database.connection() as connection:
            yield _WatchedConnection(connection, self)

    async def close(self) -> None:
        await self.database.close()

    def rule_reads(self) -> list[str]:
        """The statements that read the rules for a reload."""
        return [statement for statement in self.statements if statement.startswith(RULE_READ)]


class _WatchedConnection(Connection):
    def __init__(self, connection: Connection, watched: _Watched) -> None:
        self.dialect = connection.dialect
        self._connection = connection
        self._watched = watched

    async def execute(self, sql: str, *args: object) -> int:
        with self._watching(sql):
            return await self._connection.execute(sql, *args)

    async def execute_many(self, sql: str, rows: Iterable[Sequence[object]]) -> None:
        with self._watching(sql):
            await self._connection.execute_many(sql, rows)

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        with self._watching(sql):
            return await self._connection.fetch(sql, *args)

    @contextlib.contextmanager
    def _watching(self, sql: str) -> Iterator[None]:
        self._watched.statements.append(sql)
        try:
            yield
        except DatabaseError as error:
            self._watched.failures.append(error)
            raise


Databases = Callable[[], Awaitable[_Watched]]


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[Databases]:
    """Opens databases on one migrated database, as separate processes (replicas) would."""
    opened: list[_Watched] = []

    async def open_one() -> _Watched:
        database = _Watched(database_for(database_url))
        opened.append(database)
        await bring_up_to_date(database.database, settings_for(database_url))
        return database

    yield open_one
    for database in opened:
        await database.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def database(databases: Databases) -> _Watched:
    return await databases()


@pytest.fixture
async def book(database: _Watched, clock: FakeClock) -> AsyncIterator[RuleBook]:
    async with RuleBook(database, cache_s=CACHE_S, clock=clock.time) as loaded:
        await loaded.load()
        yield loaded


async def test_writes_show_in_this_process_at_once(book: RuleBook) -> None:
    first = book.snapshot()

    assert await book.allow(SPACE, Kind.CHANNEL, ["C1", "C2", "C1"], by=ADMIN) == ("C1", "C2")
    assert await book.allow(SPACE, Kind.CHANNEL, ["C2", "C3"], by=ADMIN) == ("C3",)
    assert await book.allow(SPACE, Kind.USER, ["U1", "W2"], by=ADMIN) == ("U1", "W2")
    assert await book.allow(OTHER_SPACE, Kind.USERGROUP, ["S1"], by=ADMIN) == ("S1",)
    await book.set_channel_space(TEAM, CHANNEL, SPACE, by=ADMIN)
    assert await book.bind(TEAM, SPACE)
    assert not await book.bind(TEAM, SPACE)
    snapshot = book.snapshot()

    assert not first.rules_for(SPACE)
    assert snapshot.rules_for(SPACE).channels == {"C1", "C2", "C3"}
    assert snapshot.rules_for(SPACE).users == {"U1", "W2"}
    assert snapshot.rules_for(SPACE).usergroups == frozenset()
    assert snapshot.rules_for(OTHER_SPACE).usergroups == {"S1"}
    assert len(snapshot.rules_for(SPACE)) == 5
    assert snapshot.groups_named() == {"S1"}
    assert snapshot.channel_space(TEAM, CHANNEL) == SPACE
    assert snapshot.channel_space("T0002", CHANNEL) is None
    assert snapshot.bound(TEAM) == {SPACE}

    assert await book.remove(SPACE, Kind.CHANNEL, "C2")
    assert not await book.remove(SPACE, Kind.CHANNEL, "C2")
    # S1 is a rule of the other space.
    assert not await book.remove(SPACE, Kind.USERGROUP, "S1")
    await book.set_channel_space(TEAM, CHANNEL, OTHER_SPACE, by=ADMIN)
    assert book.snapshot().channel_space(TEAM, CHANNEL) == OTHER_SPACE
    assert await book.clear_channel_space(TEAM, CHANNEL)
    assert not await book.clear_channel_space(TEAM, CHANNEL)
    assert await book.unbind(TEAM, SPACE)
    assert not await book.unbind(TEAM, SPACE)
    after = book.snapshot()

    assert after.rules_for(SPACE).channels == {"C1", "C3"}
    assert after.channel_space(TEAM, CHANNEL) is None
    assert after.bound(TEAM) == frozenset()
    # A snapshot once taken never changes.
    assert snapshot.rules_for(SPACE).channels == {"C1", "C2", "C3"}


async def test_the_database_keeps_who_added_what_and_when(book: RuleBook, clock: FakeClock) -> None:
    at = datetime.fromtimestamp(clock.now, UTC)
    await book.allow(SPACE, Kind.USERGROUP, ["S2", "S1"], by=ADMIN)
    await book.allow(OTHER_SPACE, Kind.CHANNEL, ["C1"], by="cli")
    await book.bind(TEAM, OTHER_SPACE)
    await book.bind("T0002", SPACE)

    assert await book.rules() == [
        RuleRecord(SPACE, Kind.USERGROUP, "S1", ADMIN, at),
        RuleRecord(SPACE, Kind.USERGROUP, "S2", ADMIN, at),
        RuleRecord(OTHER_SPACE, Kind.CHANNEL, "C1", "cli", at),
    ]
    assert [rule.subject for rule in await book.rules(OTHER_SPACE)] == ["C1"]
    assert await book.bindings() == [Binding("T0002", SPACE, at), Binding(TEAM, OTHER_SPACE, at)]
    assert await book.bindings(OTHER_SPACE) == [Binding(TEAM, OTHER_SPACE, at)]


async def test_another_process_sees_a_change_once_its_copy_is_older_than_cache_s(
    databases: Databases, clock: FakeClock
) -> None:
    reader_database = await databases()
    async with (
        RuleBook(await databases(), cache_s=CACHE_S, clock=clock.time) as writer,
        RuleBook(reader_database, cache_s=CACHE_S, clock=clock.time) as reader,
    ):
        await writer.load()
        await reader.load()
        await writer.allow(SPACE, Kind.CHANNEL, ["C1"], by=ADMIN)
        await writer.bind(TEAM, SPACE)

        clock.advance(CACHE_S - 0.5)
        stale = reader.snapshot()
        await asyncio.sleep(0.05)
        assert len(reader_database.rule_reads()) == 1
        assert not stale.rules_for(SPACE)

        clock.advance(0.5)
        # Due: the copy in hand is served while the reload runs, and asking again and again
        # starts no second reload.
        served = [reader.snapshot() for _ in range(50)]
        assert all(snapshot is stale for snapshot in served)
        await eventually(lambda: reader.snapshot() is not stale)
        assert len(reader_database.rule_reads()) == 2
        assert reader.snapshot().rules_for(SPACE).channels == {"C1"}
        assert reader.snapshot().bound(TEAM) == {SPACE}


async def test_a_failing_reload_keeps_the_copy_and_warns_once(
    databases: Databases, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    database = await databases()
    failures = database.failures
    admin = await databases()
    async with RuleBook(database, cache_s=CACHE_S, clock=clock.time) as book:
        await book.load()
        await book.allow(SPACE, Kind.CHANNEL, ["C1"], by=ADMIN)
        kept = book.snapshot()
        await _sql(admin, "ALTER TABLE access_rules RENAME TO access_rules_away")

        with caplog.at_level(logging.WARNING, logger="bot.access.rules"):
            for attempt in (1, 2, 3):
                clock.advance(CACHE_S)
                # Asked again and again, as requests would: a reload starts once the last
                # attempt is over, and one at most per cache period.
                await eventually(partial(_failed_with, book, kept, failures, attempt))
                assert len(failures) == attempt
            await _sql(
                admin,
                "INSERT INTO access_rules_away (space_id, kind, subject, created_by,"
                " created_at) VALUES ('space-a', 'channel', 'C2', 'x', CURRENT_TIMESTAMP)",
            )
            await _sql(admin, "ALTER TABLE access_rules_away RENAME TO access_rules")
            clock.advance(CACHE_S)
            await eventually(lambda: "C2" in book.snapshot().rules_for(SPACE).channels)

    messages = [record.getMessage() for record in caplog.records]
    [warning] = [message for message in messages if "cannot reload" in message]
    assert warning.startswith("access rules: cannot reload, keeping the copy in hand: ")
    assert messages.count("access rules: reloading again") == 1


def _failed_with(
    book: RuleBook, kept: RuleSnapshot, failures: list[DatabaseError], times: int
) -> bool:
    return book.snapshot() is kept and len(failures) >= times


async def _sql(database: Database, statement: str) -> None:
    async with database.transaction(write=True) as connection:
        await connection.execute(statement)


async def test_a_closed_book_serves_its_copy_and_reloads_no_more(
    database: _Watched, clock: FakeClock
) -> None:
    book = RuleBook(database, cache_s=CACHE_S, clock=clock.time)
    await book.load()
    kept = book.snapshot()
    await book.close()
    clock.advance(CACHE_S)

    assert book.snapshot() is kept
    await asyncio.sleep(0.05)
    assert len(database.rule_reads()) == 1


async def test_a_write_without_a_loaded_copy_reads_nothing_back(database: _Watched) -> None:
    async with RuleBook(database) as book:
        assert await book.allow(SPACE, Kind.USER, ["U1"], by="cli") == ("U1",)
        assert await book.bind(TEAM, SPACE)
        with pytest.raises(RuntimeError, match=r"load\(\) has not run"):
            book.snapshot()

    assert database.rule_reads() == []


async def test_a_space_takes_at_most_10_000_rules(book: RuleBook) -> None:
    many = [f"U{number:05}" for number in range(10_000)]

    with pytest.raises(RuleError) as at_once:
        await book.allow(SPACE, Kind.USER, [*many, "U99999"], by=ADMIN)
    assert len(await book.allow(SPACE, Kind.USER, many, by=ADMIN)) == 10_000
    with pytest.raises(RuleError) as one_more:
        await book.allow(SPACE, Kind.CHANNEL, ["C1"], by=ADMIN)

    for error in (at_once.value, one_more.value):
        assert error.kind is RuleErrorKind.TOO_MANY
        assert error.message == "rules for space 'space-a' would number 10,001; at most 10,000"
    assert len(book.snapshot().rules_for(SPACE)) == 10_000
    # Allowing again what is there adds nothing, so passes no bound.
    assert await book.allow(SPACE, Kind.USER, many[:3], by=ADMIN) == ()
    assert await book.allow(OTHER_SPACE, Kind.CHANNEL, ["C1"], by=ADMIN) == ("C1",)


async def test_the_bounds_in_all(database: _Watched) -> None:
    bounds = Bounds(per_space=3, rules=5, channel_spaces=2, bindings=2)
    async with RuleBook(database, bounds=bounds) as book:
        await book.load()
        await book.allow(SPACE, Kind.CHANNEL, ["C1", "C2", "C3"], by=ADMIN)
        await book.allow(OTHER_SPACE, Kind.USER, ["U1", "U2"], by=ADMIN)
        await book.set_channel_space(TEAM, "C1", SPACE, by=ADMIN)
        await book.set_channel_space(TEAM, "C2", SPACE, by=ADMIN)
        await book.bind(TEAM, SPACE)
        await book.bind(TEAM, OTHER_SPACE)

        refused = [
            book.allow("space-c", Kind.USERGROUP, ["S1"], by=ADMIN),
            book.set_channel_space(TEAM, "C3", SPACE, by=ADMIN),
            book.bind("T0002", SPACE),
        ]
        messages = []
        for change in refused:
            with pytest.raises(RuleError) as caught:
                await change
            assert caught.value.kind is RuleErrorKind.TOO_MANY
            messages.append(caught.value.message)
        # Changing what is there takes no new place.
        await book.set_channel_space(TEAM, "C2", OTHER_SPACE, by=ADMIN)
        await book.remove(OTHER_SPACE, Kind.USER, "U2")
        await book.allow("space-c", Kind.USERGROUP, ["S1"], by=ADMIN)
        snapshot = book.snapshot()

    assert messages == [
        "rules in all would number 6; at most 5",
        "channel spaces would number 3; at most 2",
        "workspace bindings would number 3; at most 2",
    ]
    assert snapshot.channel_space(TEAM, "C2") == OTHER_SPACE
    assert snapshot.groups_named() == {"S1"}


async def test_a_database_beyond_the_bounds_is_not_loaded(database: _Watched) -> None:
    async with RuleBook(database) as writer:
        await writer.allow(SPACE, Kind.CHANNEL, ["C1", "C2", "C3"], by=ADMIN)
    async with RuleBook(database, bounds=Bounds(rules=2)) as book:
        with pytest.raises(RuleError) as caught:
            await book.load()

    assert caught.value.kind is RuleErrorKind.TOO_MANY
    assert caught.value.message == (
        "the database holds more than 2 rules; at most that many can be loaded"
    )


async def test_two_processes_cannot_both_take_the_last_place(
    databases: Databases,
) -> None:
    bounds = Bounds(per_space=1)
    books = [RuleBook(await databases(), bounds=bounds) for _ in range(2)]
    results = await asyncio.gather(
        books[0].allow(SPACE, Kind.USER, ["U1"], by=ADMIN),
        books[1].allow(SPACE, Kind.USER, ["U2"], by=ADMIN),
        return_exceptions=True,
    )

    [added] = [result for result in results if isinstance(result, tuple)]
    [refused] = [result for result in results if isinstance(result, RuleError)]
    assert added in {("U1",), ("U2",)}
    assert refused.kind is RuleErrorKind.TOO_MANY
    assert len(await books[0].rules(SPACE)) == 1


@pytest.fixture
def idle_book(tmp_path: Path) -> RuleBook:
    """A book whose database is never opened: every change here is refused before it."""
    settings = StoreSettings.from_env({"DATABASE_PATH": str(tmp_path / "never.sqlite3")})
    return RuleBook(open_database(settings))


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.allow("bad space", Kind.USER, ["U1"], by=ADMIN), "'bad space' is not a space"),
        (lambda b: b.allow(SPACE, Kind.USER, ["C1"], by=ADMIN), "'C1' is not a Slack user ID"),
        (lambda b: b.allow(SPACE, Kind.USER, ["U1", "u2"], by=ADMIN), "'u2' is not a Slack user"),
        (lambda b: b.allow(SPACE, Kind.CHANNEL, ["U1"], by=ADMIN), "'U1' is not a Slack channel"),
        (lambda b: b.allow(SPACE, Kind.USERGROUP, ["U1"], by=ADMIN), "'U1' is not a Slack user g"),
        (lambda b: b.allow(SPACE, Kind.USER, [], by=ADMIN), "name at least one ID to allow"),
        (lambda b: b.allow(SPACE, Kind.USER, ["U" * 65], by=ADMIN), "is not a Slack user ID"),
        (lambda b: b.remove(SPACE, Kind.CHANNEL, "C1\n"), "'C1\\n' is not a Slack channel ID"),
        (lambda b: b.set_channel_space("E1", CHANNEL, SPACE, by=ADMIN), "not a Slack team ID"),
        (lambda b: b.set_channel_space(TEAM, "U1", SPACE, by=ADMIN), "not a Slack channel ID"),
        (lambda b: b.set_channel_space(TEAM, CHANNEL, "", by=ADMIN), "'' is not a space ID"),
        (lambda b: b.clear_channel_space(TEAM, "X1"), "'X1' is not a Slack channel ID"),
        (lambda b: b.bind("team", SPACE), "'team' is not a Slack team ID (T...)"),
        (lambda b: b.unbind(TEAM, "a/b"), "'a/b' is not a space ID"),
    ],
)
async def test_a_bad_id_is_refused_before_the_database(
    idle_book: RuleBook, change: Callable[[RuleBook], Awaitable[object]], problem: str
) -> None:
    with pytest.raises(RuleError) as caught:
        await change(idle_book)

    assert caught.value.kind is RuleErrorKind.INVALID
    assert problem in caught.value.message


async def test_a_space_that_differs_from_one_named_only_in_case_or_dashes_is_refused(
    database: _Watched,
) -> None:
    async with RuleBook(database, known=["C29393993ABCD"]) as book:
        await book.load()
        await book.allow("cams-acme", Kind.USER, ["U1"], by=ADMIN)
        await book.set_channel_space(TEAM, CHANNEL, "cams_demo", by=ADMIN)
        await book.bind(TEAM, "cams-bound")
        refused = [
            book.allow("CAMS-ACME", Kind.USER, ["U2"], by=ADMIN),
            book.allow("cams_acme", Kind.CHANNEL, ["C2"], by=ADMIN),
            book.set_channel_space(TEAM, "C2", "cams-demo", by=ADMIN),
            book.bind("T0002", "Cams_Bound"),
            book.allow("c29393993abcd", Kind.USER, ["U3"], by=ADMIN),
        ]
        messages = []
        for change in refused:
            with pytest.raises(RuleError) as caught:
                await change
            assert caught.value.kind is RuleErrorKind.LOOK_ALIKE
            messages.append(caught.value.message)
        # The spelling already named, and the configured one, are taken as they are.
        assert await book.allow("cams-acme", Kind.USER, ["U2"], by=ADMIN) == ("U2",)
        assert await book.allow("C29393993ABCD", Kind.USER, ["U3"], by=ADMIN) == ("U3",)
        snapshot = book.snapshot()

    assert messages[0] == (
        "'CAMS-ACME' is not 'cams-acme': space IDs are written exactly as CAMS gives them, "
        "letter case, '-' and '_' included"
    )
    assert "'cams-demo' is not 'cams_demo'" in messages[2]
    assert "'Cams_Bound' is not 'cams-bound'" in messages[3]
    assert "is not 'C29393993ABCD'" in messages[4]
    assert [r.space_id for r in await book.rules()] == ["C29393993ABCD", "cams-acme", "cams-acme"]
    assert snapshot.look_alike("CAMS_ACME") == "cams-acme"
    assert snapshot.look_alike("cams-acme") is None
    assert snapshot.look_alike("cams-other") is None
