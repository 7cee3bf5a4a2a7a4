"""Marks in memory, on a fake clock: the first claim wins until the mark expires or is released."""

from __future__ import annotations

from bot.preview.marks import Marks
from tests.fake_clock import FakeClock

KEY = ("T1", "C1", "1234567890123456")


async def test_the_first_claim_wins_until_the_mark_expires() -> None:
    clock = FakeClock()
    marks = Marks(clock=clock.time)

    assert await marks.claim("unfurl", KEY, 60)
    assert not await marks.claim("unfurl", KEY, 60)
    clock.advance(59)
    assert not await marks.claim("unfurl", KEY, 60)
    clock.advance(2)
    assert await marks.claim("unfurl", KEY, 60)


async def test_a_released_mark_can_be_claimed_again() -> None:
    marks = Marks(clock=FakeClock().time)
    assert await marks.claim("unfurl", KEY, 60)
    await marks.release("unfurl", KEY)
    assert await marks.claim("unfurl", KEY, 60)


async def test_scopes_and_keys_are_apart() -> None:
    marks = Marks(clock=FakeClock().time)
    assert await marks.claim("unfurl", KEY, 60)
    assert await marks.claim("other", KEY, 60)
    assert await marks.claim("unfurl", ("T1", "C2", KEY[2]), 60)


async def test_memory_is_bounded_the_oldest_going_first() -> None:
    marks = Marks(kept=2, clock=FakeClock().time)
    for channel in ("C1", "C2", "C3"):
        assert await marks.claim("unfurl", ("T1", channel), 60)
    assert await marks.claim("unfurl", ("T1", "C1"), 60), "forgotten, so claimed again"
