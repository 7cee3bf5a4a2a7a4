"""People's pinned flows on SQLite and PostgreSQL: order, duplicates, the default space, the
bound, and pins racing each other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from bot.store.database import Database
from bot.store.pins import MAX_PINS, Pin, PinLimitError, Pins
from bot.store.settings import StoreSettings
from bot.store.store import Store
from tests.shared import store
from tests.shared.store import NOW

# Fixtures defined once in tests/shared/store.py, bound here under the names tests take.
migrated_database = store.migrated_database

TEAM, USER = "T1", "U1"
FLOW_A, FLOW_B, FLOW_C = "1000000000000001", "1000000000000002", "1000000000000003"
SPACE = "space-a"


class Ticks:
    """A clock that moves a minute each time it is read, so that every pin has its own time."""

    def __init__(self) -> None:
        self._times: Iterator[datetime] = (NOW + timedelta(minutes=n) for n in range(10_000))

    def __call__(self) -> datetime:
        return next(self._times)


def _pins(database: Database, *, max_pins: int = MAX_PINS) -> Pins:
    return Pins(database, max_pins=max_pins, clock=Ticks())


async def test_pins_are_listed_newest_first_and_unpinned(migrated_database: Database) -> None:
    book = _pins(migrated_database)

    assert await book.pin(TEAM, USER, FLOW_A, SPACE)
    assert await book.pin(TEAM, USER, FLOW_B, SPACE)
    assert await book.pin(TEAM, USER, FLOW_C, None)

    assert await book.list(TEAM, USER) == [
        Pin(FLOW_C, None, NOW + timedelta(minutes=2)),
        Pin(FLOW_B, SPACE, NOW + timedelta(minutes=1)),
        Pin(FLOW_A, SPACE, NOW),
    ]
    assert await book.unpin(TEAM, USER, FLOW_B, SPACE)
    assert not await book.unpin(TEAM, USER, FLOW_B, SPACE), "already gone"
    assert [pin.flow_id for pin in await book.list(TEAM, USER)] == [FLOW_C, FLOW_A]


async def test_pinning_again_changes_nothing(migrated_database: Database) -> None:
    book = _pins(migrated_database)

    assert await book.pin(TEAM, USER, FLOW_A, SPACE)
    assert not await book.pin(TEAM, USER, FLOW_A, SPACE)

    assert await book.list(TEAM, USER) == [Pin(FLOW_A, SPACE, NOW)]


async def test_the_default_space_is_its_own_pin_and_stored_as_empty(
    migrated_database: Database,
) -> None:
    book = _pins(migrated_database)

    assert await book.pin(TEAM, USER, FLOW_A, None)
    assert await book.pin(TEAM, USER, FLOW_A, SPACE)
    assert not await book.pin(TEAM, USER, FLOW_A, None)

    assert [(pin.flow_id, pin.space_id) for pin in await book.list(TEAM, USER)] == [
        (FLOW_A, SPACE),
        (FLOW_A, None),
    ]
    async with migrated_database.connection() as connection:
        stored = {space for (space,) in await connection.fetch("SELECT space_id FROM pins")}
    assert stored == {"", SPACE}
    assert await book.unpin(TEAM, USER, FLOW_A, None)
    assert [pin.space_id for pin in await book.list(TEAM, USER)] == [SPACE]


async def test_each_person_has_their_own_pins(migrated_database: Database) -> None:
    book = _pins(migrated_database)
    await book.pin(TEAM, USER, FLOW_A, SPACE)
    await book.pin(TEAM, "U2", FLOW_B, SPACE)
    await book.pin("T2", USER, FLOW_C, SPACE)

    assert not await book.unpin(TEAM, "U2", FLOW_A, SPACE), "another person's pin"
    assert [pin.flow_id for pin in await book.list(TEAM, USER)] == [FLOW_A]
    assert [pin.flow_id for pin in await book.list(TEAM, "U2")] == [FLOW_B]
    assert [pin.flow_id for pin in await book.list("T2", USER)] == [FLOW_C]
    assert await book.list("T2", "U2") == []


async def test_a_person_holds_at_most_max_pins(migrated_database: Database) -> None:
    book = _pins(migrated_database, max_pins=2)
    await book.pin(TEAM, USER, FLOW_A, SPACE)
    await book.pin(TEAM, USER, FLOW_B, SPACE)

    with pytest.raises(PinLimitError, match="at most 2 flows") as refused:
        await book.pin(TEAM, USER, FLOW_C, SPACE)

    assert refused.value.limit == 2
    assert not await book.pin(TEAM, USER, FLOW_A, SPACE), "a pin already held is no new one"
    assert [pin.flow_id for pin in await book.list(TEAM, USER)] == [FLOW_B, FLOW_A]
    assert await book.pin(TEAM, "U2", FLOW_C, SPACE), "the bound is per person"
    await book.unpin(TEAM, USER, FLOW_A, SPACE)
    assert await book.pin(TEAM, USER, FLOW_C, SPACE)


async def test_racing_pins_neither_pass_the_bound_nor_fail_on_duplicates(
    migrated_database: Database,
) -> None:
    book = _pins(migrated_database, max_pins=3)
    flows = [f"20000000000000{n:02d}" for n in range(8)]

    outcomes = await asyncio.gather(
        *(book.pin(TEAM, USER, flow, SPACE) for flow in flows), return_exceptions=True
    )
    same = await asyncio.gather(*(book.pin(TEAM, "U2", FLOW_A, None) for _ in range(6)))

    assert outcomes.count(True) == 3
    assert all(isinstance(outcome, PinLimitError) for outcome in outcomes if outcome is not True)
    assert len(await book.list(TEAM, USER)) == 3
    assert sorted(same) == [False] * 5 + [True]
    assert len(await book.list(TEAM, "U2")) == 1


async def test_the_store_holds_the_pins(database_url: str) -> None:
    held = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    try:
        await held.start()
        assert await held.pins.pin(TEAM, USER, FLOW_A, None)
        assert [pin.flow_id for pin in await held.pins.list(TEAM, USER)] == [FLOW_A]
    finally:
        await held.close()
