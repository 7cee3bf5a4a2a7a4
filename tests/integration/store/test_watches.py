"""Flow watches on SQLite and PostgreSQL: watches and their bounds, flow states and the changes
they show, deliveries and their claims, threads and leases; and replicas racing at each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from bot.store.database import Database, read_time
from bot.store.settings import StoreSettings
from bot.store.store import Store
from bot.store.watches import (
    CHANNEL_ENDED,
    MAX_PER_CHANNEL,
    MAX_TOTAL,
    Change,
    ChangeKind,
    Delivery,
    Watch,
    Watches,
    WatchLimitError,
)
from tests.shared import store
from tests.shared.store import NOW, database_for

# Fixtures defined once in tests/shared/store.py, bound here under the names tests take.
migrated_database = store.migrated_database

TEAM, USER = "T1", "U1"
CHANNEL, OTHER_CHANNEL, THIRD_CHANNEL = "C1", "C2", "C3"
SPACE, OTHER_SPACE = "space-a", "space-b"
FLOW_A, FLOW_B = "1000000000000001", "1000000000000002"
STALE_S = 60.0


class Clock:
    """A clock that stands still until a test moves it."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock on by `seconds`."""
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def database(migrated_database: Database) -> Database:
    """A migrated database, as one replica holds it."""
    return migrated_database


@pytest.fixture
async def replica_database(database: Database, database_url: str) -> AsyncIterator[Database]:
    """A second pool on the same migrated database, as another replica holds."""
    second = database_for(database_url)
    yield second
    await second.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _watches(
    database: Database,
    clock: Clock,
    *,
    max_per_channel: int = MAX_PER_CHANNEL,
    max_total: int = MAX_TOTAL,
) -> Watches:
    return Watches(database, max_per_channel=max_per_channel, max_total=max_total, clock=clock)


async def _deliveries(database: Database) -> list[tuple[int, str, str, str | None]]:
    """Every delivery as (change, channel, state, reason), in that order."""
    async with database.connection() as connection:
        rows = await connection.fetch(
            "SELECT change_id, channel_id, state, reason FROM watch_deliveries "
            "ORDER BY change_id, channel_id, state, reason"
        )
    return [(change, channel, state, reason) for change, channel, state, reason in rows]


async def _column(database: Database, sql: str) -> list[object]:
    """The first column of every row `sql` selects."""
    async with database.connection() as connection:
        return [row[0] for row in await connection.fetch(sql)]


async def _changes(database: Database) -> int:
    """How many changes are recorded."""
    async with database.connection() as connection:
        return int(await connection.fetch_value("SELECT count(*) FROM flow_changes"))


async def _changed(book: Watches, flow: str, status: str) -> Change:
    """Record a change of `flow` in SPACE, whose state was stored before, to `status`."""
    change = await book.observe(SPACE, flow, f"flow {flow}", status)
    assert change is not None
    return change


async def _baseline(book: Watches, *flows: str) -> None:
    for flow in flows:
        assert await book.observe(SPACE, flow, f"flow {flow}", "DRAFT") is None


# Watches


async def test_watches_are_added_listed_oldest_first_and_removed(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)

    flow, created = await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    clock.advance(60)
    space, space_created = await book.add(TEAM, CHANNEL, SPACE, None, "U2")
    await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_B, USER)

    assert (created, space_created) == (True, True)
    assert flow == Watch(flow.id, TEAM, CHANNEL, SPACE, FLOW_A, USER, NOW, None)
    assert space == Watch(
        space.id, TEAM, CHANNEL, SPACE, None, "U2", NOW + timedelta(seconds=60), None
    )
    assert await book.for_channel(TEAM, CHANNEL) == [flow, space]
    assert await book.count() == 3
    stored = set(await _column(database, "SELECT flow_id FROM watches"))
    assert stored == {FLOW_A, FLOW_B, ""}, "a whole space is stored as an empty flow ID"

    assert await book.remove(TEAM, CHANNEL, SPACE, None)
    assert not await book.remove(TEAM, CHANNEL, SPACE, None), "already gone"
    assert not await book.remove(TEAM, CHANNEL, OTHER_SPACE, FLOW_A), "another space's"
    assert await book.for_channel(TEAM, CHANNEL) == [flow]
    assert await book.for_channel("T2", CHANNEL) == [], "another workspace's channel"


async def test_adding_a_watch_again_returns_the_one_there(database: Database, clock: Clock) -> None:
    book = _watches(database, clock)
    first, _ = await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await book.pause(first.id, "no access")
    clock.advance(60)

    again, created = await book.add(TEAM, CHANNEL, SPACE, FLOW_A, "U2")

    assert not created
    assert again == Watch(first.id, TEAM, CHANNEL, SPACE, FLOW_A, USER, NOW, "no access")
    assert await book.count() == 1


async def test_a_channel_holds_at_most_max_per_channel(database: Database, clock: Clock) -> None:
    book = _watches(database, clock, max_per_channel=2)
    await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await book.add(TEAM, CHANNEL, SPACE, None, USER)

    with pytest.raises(WatchLimitError, match=r"^This channel already has 2 watches") as refused:
        await book.add(TEAM, CHANNEL, SPACE, FLOW_B, USER)

    assert (refused.value.limit, refused.value.per_channel) == (2, True)
    assert str(refused.value).endswith(".")
    assert not (await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER))[1], "one already held"
    assert (await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_B, USER))[1], "the bound is per channel"
    assert await book.count() == 3


async def test_all_channels_hold_at_most_max_total(database: Database, clock: Clock) -> None:
    book = _watches(database, clock, max_total=2)
    await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_A, USER)

    with pytest.raises(WatchLimitError, match=r"already keeps 2 watches") as refused:
        await book.add(TEAM, THIRD_CHANNEL, SPACE, FLOW_A, USER)

    assert (refused.value.limit, refused.value.per_channel) == (2, False)
    await book.remove(TEAM, CHANNEL, SPACE, FLOW_A)
    assert (await book.add(TEAM, THIRD_CHANNEL, SPACE, FLOW_A, USER))[1]


async def test_racing_adds_from_two_replicas_never_pass_the_bounds(
    database: Database, replica_database: Database, clock: Clock
) -> None:
    books = [
        _watches(database, clock, max_per_channel=3, max_total=5),
        _watches(replica_database, clock, max_per_channel=3, max_total=5),
    ]
    flows = [f"20000000000000{n:02d}" for n in range(8)]

    in_one_channel = await asyncio.gather(
        *(books[n % 2].add(TEAM, CHANNEL, SPACE, flow, USER) for n, flow in enumerate(flows)),
        return_exceptions=True,
    )
    same_watch = await asyncio.gather(
        *(books[n % 2].add(TEAM, OTHER_CHANNEL, SPACE, FLOW_A, USER) for n in range(6))
    )
    across_channels = await asyncio.gather(
        *(books[n % 2].add(TEAM, f"C9{n}", SPACE, FLOW_A, USER) for n in range(6)),
        return_exceptions=True,
    )

    assert _outcomes(in_one_channel) == {"added": 3, "per channel": 5}
    assert sorted(created for _, created in same_watch) == [False] * 5 + [True]
    assert len({watch.id for watch, _ in same_watch}) == 1
    # 3 in CHANNEL and 1 in OTHER_CHANNEL leave room for one more.
    assert _outcomes(across_channels) == {"added": 1, "in all": 5}
    assert await books[1].count() == 5


def _outcomes(outcomes: list[tuple[Watch, bool] | BaseException]) -> dict[str, int]:
    """How many adds made a new watch, and how many each bound refused."""
    counted: dict[str, int] = {}
    for outcome in outcomes:
        if isinstance(outcome, WatchLimitError):
            key = "per channel" if outcome.per_channel else "in all"
        else:
            assert isinstance(outcome, tuple), outcome
            key = "added" if outcome[1] else "there already"
        counted[key] = counted.get(key, 0) + 1
    return counted


async def test_paused_watches_are_listed_but_not_active(database: Database, clock: Clock) -> None:
    book = _watches(database, clock)
    flow, _ = await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    space, _ = await book.add(TEAM, OTHER_CHANNEL, SPACE, None, USER)

    await book.pause(flow.id, "CAMS refused: no access to the flow " + "x" * 300)

    paused = (await book.for_channel(TEAM, CHANNEL))[0]
    assert paused.paused_reason is not None
    assert paused.paused_reason.startswith("CAMS refused: no access to the flow x")
    assert len(paused.paused_reason) == 200, "cut to the column's length"
    assert await book.active() == [space]

    await book.resume(flow.id)

    assert await book.active() == [flow, space]


async def test_ending_a_channel_ends_its_watches_deliveries_and_threads(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await book.add(TEAM, CHANNEL, SPACE, None, USER)
    await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_A, USER)
    await book.set_thread(TEAM, CHANNEL, SPACE, FLOW_A, "1700000000.000100")
    await book.set_thread(TEAM, OTHER_CHANNEL, SPACE, FLOW_A, "1700000000.000200")
    await _baseline(book, FLOW_A)
    change = await _changed(book, FLOW_A, "PUBLISHED")

    assert await book.end_channel(TEAM, CHANNEL) == 2
    assert await book.end_channel(TEAM, CHANNEL) == 0

    assert await book.for_channel(TEAM, CHANNEL) == []
    assert len(await book.for_channel(TEAM, OTHER_CHANNEL)) == 1
    assert await _deliveries(database) == [
        (change.id, CHANNEL, "failed", CHANNEL_ENDED),
        (change.id, OTHER_CHANNEL, "pending", None),
    ]
    threads = await _column(database, "SELECT channel_id FROM watch_threads")
    assert threads == [OTHER_CHANNEL]


async def test_ending_a_flow_ends_its_watches_only(database: Database, clock: Clock) -> None:
    book = _watches(database, clock)
    await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_A, USER)
    await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_B, USER)
    space, _ = await book.add(TEAM, THIRD_CHANNEL, SPACE, None, USER)
    other_space, _ = await book.add(TEAM, THIRD_CHANNEL, OTHER_SPACE, FLOW_A, USER)

    assert await book.end_flow(SPACE, FLOW_A) == 2

    assert [watch.flow_id for watch in await book.for_channel(TEAM, OTHER_CHANNEL)] == [FLOW_B]
    assert await book.for_channel(TEAM, THIRD_CHANNEL) == [space, other_space]
    assert await book.end_flow(SPACE, FLOW_A) == 0


# Flow states and changes


async def test_a_flows_first_look_is_its_baseline_and_a_new_status_a_change(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)

    assert await book.observe(SPACE, FLOW_A, "Sign up", "DRAFT") is None
    assert await book.observe(SPACE, FLOW_A, "Sign up", "DRAFT") is None, "nothing new"
    clock.advance(900)
    change = await book.observe(SPACE, FLOW_A, "Sign up", "PUBLISHED")
    again = await book.observe(SPACE, FLOW_A, "Sign up", "PUBLISHED")

    assert change is not None
    seen = NOW + timedelta(seconds=900)
    expected = Change(
        change.id, SPACE, FLOW_A, "Sign up", ChangeKind.STATUS, "DRAFT", "PUBLISHED", seen
    )
    assert change == expected
    assert again is None
    assert await book.known(SPACE) == {FLOW_A: ("Sign up", "PUBLISHED", False)}
    assert await book.known(OTHER_SPACE) == {}
    assert await _changes(database) == 1


async def test_a_flow_first_seen_in_a_listed_space_is_new(database: Database, clock: Clock) -> None:
    book = _watches(database, clock)
    assert await book.observe(SPACE, FLOW_A, "Sign up", "PUBLISHED") is None
    assert not await book.is_listed(SPACE)

    await book.listed(SPACE)
    await book.listed(SPACE)
    new = await book.observe(SPACE, FLOW_B, "Book a table", "DRAFT")
    elsewhere = await book.observe(OTHER_SPACE, FLOW_B, "Book a table", "DRAFT")

    assert await book.is_listed(SPACE)
    assert not await book.is_listed(OTHER_SPACE)
    assert new is not None
    assert (new.kind, new.old_status, new.new_status, new.name) == (
        ChangeKind.NEW,
        None,
        "DRAFT",
        "Book a table",
    )
    assert elsewhere is None, "OTHER_SPACE was never listed"


async def test_a_removed_flow_is_told_once_and_again_if_it_comes_back(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    await book.observe(SPACE, FLOW_A, "Sign up", "BLOCKED")

    removed = await book.observe(SPACE, FLOW_A, "Sign up", None, removed=True)
    again = await book.observe(SPACE, FLOW_A, "Sign up", None, removed=True)
    back = await book.observe(SPACE, FLOW_A, "Sign up", "DRAFT")

    assert removed is not None
    assert (removed.kind, removed.old_status, removed.new_status) == (
        ChangeKind.REMOVED,
        "BLOCKED",
        None,
    )
    assert again is None
    assert back is not None
    assert (back.kind, back.old_status, back.new_status) == (ChangeKind.NEW, None, "DRAFT")
    assert await book.observe(SPACE, FLOW_B, "Gone", None, removed=True) is None, "a baseline"
    assert (await book.known(SPACE))[FLOW_B] == ("Gone", None, True)


async def test_a_look_without_a_status_or_with_a_new_name_is_no_change(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    assert await book.observe(SPACE, FLOW_A, "Sign up", None) is None

    assert await book.observe(SPACE, FLOW_A, "Sign up", "DRAFT") is None, "learnt, not changed"
    assert await book.observe(SPACE, FLOW_A, "Sign up", None) is None, "status kept"
    assert await book.observe(SPACE, FLOW_A, "Sign-up v2", "DRAFT") is None
    long_name = "n" * 300
    assert await book.observe(SPACE, FLOW_A, long_name, "DRAFT") is None
    assert await book.observe(SPACE, FLOW_A, long_name, "DRAFT") is None

    assert await book.known(SPACE) == {FLOW_A: ("n" * 200, "DRAFT", False)}
    assert await _changes(database) == 0


async def test_a_change_is_delivered_once_to_each_active_watching_channel(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    # Both a watch of the flow and of its space: one delivery.
    await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_A, USER)
    await book.add(TEAM, OTHER_CHANNEL, SPACE, None, USER)
    paused, _ = await book.add(TEAM, THIRD_CHANNEL, SPACE, FLOW_A, USER)
    await book.pause(paused.id, "no access")
    await book.add("T2", CHANNEL, SPACE, None, USER)
    # Watching something else.
    await book.add(TEAM, "C4", SPACE, FLOW_B, USER)
    await book.add(TEAM, "C5", OTHER_SPACE, None, USER)
    await book.add(TEAM, "C6", OTHER_SPACE, FLOW_A, USER)
    await _baseline(book, FLOW_A)

    change = await _changed(book, FLOW_A, "THROTTLED")

    assert await _deliveries(database) == [
        (change.id, CHANNEL, "pending", None),
        (change.id, CHANNEL, "pending", None),
        (change.id, OTHER_CHANNEL, "pending", None),
    ]
    teams = await _column(database, "SELECT team_id FROM watch_deliveries")
    assert sorted(map(str, teams)) == [TEAM, TEAM, "T2"]


async def test_replicas_looking_at_once_record_one_change(
    database: Database, replica_database: Database, clock: Clock
) -> None:
    books = [_watches(database, clock), _watches(replica_database, clock)]
    await books[0].add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await books[0].add(TEAM, OTHER_CHANNEL, SPACE, None, USER)
    await _baseline(books[0], FLOW_A)

    changes = await asyncio.gather(
        *(books[n % 2].observe(SPACE, FLOW_A, "Sign up", "BLOCKED") for n in range(8))
    )

    recorded = [change for change in changes if change is not None]
    assert len(recorded) == 1
    assert await _changes(database) == 1
    assert [channel for _, channel, _, _ in await _deliveries(database)] == [CHANNEL, OTHER_CHANNEL]


# Deliveries and threads


async def test_claims_hand_the_oldest_changes_with_their_threads(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    await book.add(TEAM, CHANNEL, SPACE, None, USER)
    await _baseline(book, FLOW_A, FLOW_B)
    first = await _changed(book, FLOW_A, "PUBLISHED")
    second = await _changed(book, FLOW_B, "PUBLISHED")
    await book.set_thread(TEAM, CHANNEL, SPACE, FLOW_B, "1700000000.000100")
    await book.set_thread(TEAM, CHANNEL, SPACE, FLOW_B, "1700000000.000200")

    claimed = await book.claim_deliveries(1, stale_after=STALE_S)
    rest = await book.claim_deliveries(10, stale_after=STALE_S)

    assert claimed == [Delivery(first, TEAM, CHANNEL, None)]
    assert rest == [Delivery(second, TEAM, CHANNEL, "1700000000.000200")]
    assert await book.claim_deliveries(10, stale_after=STALE_S) == [], "all being posted"
    assert await book.claim_deliveries(0, stale_after=STALE_S) == []


async def test_a_channel_gets_one_change_of_a_flow_at_a_time(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await book.add(TEAM, OTHER_CHANNEL, SPACE, FLOW_A, USER)
    await _baseline(book, FLOW_A)
    first = await _changed(book, FLOW_A, "PUBLISHED")
    second = await _changed(book, FLOW_A, "THROTTLED")

    claimed = await book.claim_deliveries(10, stale_after=STALE_S)
    assert claimed == [
        Delivery(first, TEAM, CHANNEL, None),
        Delivery(first, TEAM, OTHER_CHANNEL, None),
    ]
    assert await book.claim_deliveries(10, stale_after=STALE_S) == [], "the first is posting"

    await book.posted(first.id, TEAM, CHANNEL, "1700000000.000100")
    await book.set_thread(TEAM, CHANNEL, SPACE, FLOW_A, "1700000000.000100")

    assert await book.claim_deliveries(10, stale_after=STALE_S) == [
        Delivery(second, TEAM, CHANNEL, "1700000000.000100")
    ]


async def test_replicas_claiming_at_once_never_share_a_delivery(
    database: Database, replica_database: Database, clock: Clock
) -> None:
    books = [_watches(database, clock), _watches(replica_database, clock)]
    channels = [f"C{n:02d}" for n in range(12)]
    for channel in channels:
        await books[0].add(TEAM, channel, SPACE, None, USER)
    await _baseline(books[0], FLOW_A, FLOW_B)
    await _changed(books[0], FLOW_A, "PUBLISHED")
    await _changed(books[0], FLOW_B, "PUBLISHED")

    batches = await asyncio.gather(
        *(books[n % 2].claim_deliveries(3, stale_after=STALE_S) for n in range(12))
    )

    claimed = [(delivery.change.id, delivery.channel_id) for batch in batches for delivery in batch]
    assert len(claimed) == len(set(claimed)) == 24
    assert all(len(batch) <= 3 for batch in batches)
    assert {state for _, _, state, _ in await _deliveries(database)} == {"posting"}


async def test_a_delivery_left_posting_is_claimed_again_once_stale(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    await book.add(TEAM, CHANNEL, SPACE, FLOW_A, USER)
    await _baseline(book, FLOW_A)
    change = await _changed(book, FLOW_A, "DEPRECATED")
    assert len(await book.claim_deliveries(10, stale_after=STALE_S)) == 1

    clock.advance(STALE_S)
    assert await book.claim_deliveries(10, stale_after=STALE_S) == [], "not more than STALE_S"
    clock.advance(1)
    reclaimed = await book.claim_deliveries(10, stale_after=STALE_S)

    assert reclaimed == [Delivery(change, TEAM, CHANNEL, None)]
    assert await book.claim_deliveries(10, stale_after=STALE_S) == [], "claimed anew"


async def test_deliveries_are_posted_failed_or_released(database: Database, clock: Clock) -> None:
    book = _watches(database, clock)
    for channel in (CHANNEL, OTHER_CHANNEL, THIRD_CHANNEL):
        await book.add(TEAM, channel, SPACE, FLOW_A, USER)
    await _baseline(book, FLOW_A)
    change = await _changed(book, FLOW_A, "PUBLISHED")
    assert len(await book.claim_deliveries(10, stale_after=STALE_S)) == 3

    await book.posted(change.id, TEAM, CHANNEL, "1700000000.000100")
    await book.failed(change.id, TEAM, OTHER_CHANNEL, "not_in_channel " + "x" * 300)
    await book.release(change.id, TEAM, THIRD_CHANNEL)

    states = await _deliveries(database)
    assert [(channel, state) for _, channel, state, _ in states] == [
        (CHANNEL, "posted"),
        (OTHER_CHANNEL, "failed"),
        (THIRD_CHANNEL, "pending"),
    ]
    reason = states[1][3]
    assert reason is not None
    assert (reason[:15], len(reason)) == ("not_in_channel ", 200)
    async with database.connection() as connection:
        message_ts, posted_at = await connection.fetch_one(
            "SELECT message_ts, posted_at FROM watch_deliveries WHERE channel_id = $1", CHANNEL
        ) or (None, None)
    assert (message_ts, read_time(posted_at)) == ("1700000000.000100", NOW)
    assert await book.claim_deliveries(10, stale_after=STALE_S) == [
        Delivery(change, TEAM, THIRD_CHANNEL, None)
    ]


# Leases


async def test_a_lease_is_held_renewed_refused_and_taken_over_after_expiry(
    database: Database, replica_database: Database, clock: Clock
) -> None:
    mine, theirs = _watches(database, clock), _watches(replica_database, clock)

    assert await mine.take_lease("watch-poll", "replica-1", 30)
    assert not await theirs.take_lease("watch-poll", "replica-2", 30)
    assert await theirs.take_lease("other-work", "replica-2", 30), "each lease is its own"
    clock.advance(20)
    assert await mine.take_lease("watch-poll", "replica-1", 30), "renewed until NOW + 50s"
    clock.advance(29)
    assert not await theirs.take_lease("watch-poll", "replica-2", 30)
    clock.advance(1)
    assert await theirs.take_lease("watch-poll", "replica-2", 30), "expired: taken over"
    assert not await mine.take_lease("watch-poll", "replica-1", 30)


async def test_racing_replicas_take_a_free_lease_once(
    database: Database, replica_database: Database, clock: Clock
) -> None:
    books = [_watches(database, clock), _watches(replica_database, clock)]

    taken = await asyncio.gather(
        *(books[n % 2].take_lease("watch-poll", f"replica-{n}", 30) for n in range(8))
    )

    assert taken.count(True) == 1


async def test_a_dropped_lease_is_free_at_once_and_only_its_holder_drops_it(
    database: Database, clock: Clock
) -> None:
    book = _watches(database, clock)
    assert await book.take_lease("watch-poll", "replica-1", 30)

    await book.drop_lease("watch-poll", "replica-2")
    assert not await book.take_lease("watch-poll", "replica-2", 30), "not theirs to drop"
    await book.drop_lease("watch-poll", "replica-1")

    assert await book.take_lease("watch-poll", "replica-2", 30)


async def test_the_store_holds_the_watches(database_url: str) -> None:
    held = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    try:
        await held.start()
        assert (await held.watches.add(TEAM, CHANNEL, SPACE, FLOW_A, USER))[1]
        assert await held.watches.count() == 1
    finally:
        await held.close()
