"""Watches across restarts and replicas, on SQLite and PostgreSQL: a change is posted exactly
once whoever finds it and whenever it happened, and one replica polls at a time.

Each bot has an emulator of its own; a change "in CAMS" is made in every running one.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta

from bot.slack.watching.poller import Poller
from bot.slack.watching.runner import Watching
from bot.slack.watching.settings import WatchSettings
from bot.standin.harness.slack_bot import Bot
from bot.standin.slack.surfaces import Posted
from bot.store.store import Store
from bot.store.watches import Watches
from tests.fake_clock import FakeClock
from tests.integration.slack.watching.harness import (
    CHANNEL,
    FLOW,
    IN_GENERAL,
    Rig,
    poster_of,
    rig,
    rig_of,
    text_of,
    watching_bot,
)

PACED = WatchSettings(poll_s=60.0, max_qps=1.0)
EPOCH = datetime(2026, 3, 1, tzinfo=UTC)


@asynccontextmanager
async def replicas(database_url: str, count: int) -> AsyncIterator[list[Rig]]:
    """`count` bots on one database, each with a poller and a poster of the test's own."""
    async with AsyncExitStack() as stack:
        rigs = [await stack.enter_async_context(rig(database_url)) for _ in range(count)]
        yield rigs


def _set_status(rigs: list[Rig], status: str) -> None:
    for r in rigs:
        r.bot.cams.set_status(FLOW.flow_id, status)


def _posts(rigs: list[Rig]) -> list[Posted]:
    return [posted for r in rigs for posted in r.bot.slack.posts]


async def _rounds(rigs: list[Rig], count: int = 2) -> None:
    """`count` rounds of every replica polling, then posting, at the same time."""
    for _ in range(count):
        await asyncio.gather(*(r.cycle() for r in rigs))
        await asyncio.gather(*(r.post() for r in rigs))


async def test_a_change_made_while_every_replica_is_down_is_posted_once_after_they_start(
    database_url: str,
) -> None:
    async with rig(database_url) as before:
        await before.command(f"watch {FLOW.flow_id}")
        await before.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        _set_status([before], "DEPRECATED")
        first = await before.poll_and_post()
    async with replicas(database_url, 2) as after:
        # Meanwhile Meta blocked the flow.
        _set_status(after, "BLOCKED")
        await _rounds(after)
        posted = _posts(after)

    assert len(first) == 2
    assert sorted(p.channel for p in posted) == sorted([CHANNEL, IN_GENERAL.channel_id])
    for message in posted:
        assert "Deprecated → *:octagonal_sign: Blocked*" in text_of(message)
    threads = {p.channel: p.message.get("thread_ts") for p in posted}
    assert all(threads.values()), "the thread started before the restart goes on"


async def test_two_replicas_never_post_a_change_twice(database_url: str) -> None:
    async with replicas(database_url, 2) as (a, b):
        await a.command(f"watch {FLOW.flow_id}")
        await b.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        _set_status([a, b], "THROTTLED")
        await a.cycle()
        # Both find the change: the lease holder, then the other once it is let go.
        await a.poller.stop()
        await b.cycle()
        await asyncio.gather(*(r.post() for _ in range(3) for r in (a, b)))
        await _rounds([a, b])
        posted = _posts([a, b])

    assert sorted(p.channel for p in posted) == sorted([CHANNEL, IN_GENERAL.channel_id])


def _poller(bot: Bot, store: Store, watches: Watches, holder: str, clock: FakeClock) -> Poller:
    """A poller of `bot`'s flows holding the lease as `holder`, with `watches`, on `clock`."""
    return Poller(
        bot.service,
        watches,
        PACED,
        holder=holder,
        notify=poster_of(bot, store, clock).notify_paused,
        clock=clock.time,
        sleep=clock.sleep,
    )


def _on_clock(store: Store, clock: FakeClock) -> Watches:
    """The store's watches with lease times on `clock`."""

    def now() -> datetime:
        return EPOCH + timedelta(seconds=clock.now)

    return Watches(store.database, clock=now)


async def test_one_poller_polls_and_another_takes_over_when_it_stops(database_url: str) -> None:
    async with watching_bot(database_url, watch=PACED) as (bot, store):
        await bot.command(f"watch {FLOW.flow_id}")
        clock = FakeClock(1000.0, sleep_advances=True)
        pollers = [_poller(bot, store, store.watches, holder, clock) for holder in "ab"]
        a = Watching(pollers[0], rig_of(bot, store).poster)
        polls = []
        for step in ("a", "b", "stop a", "b", "a"):
            before = bot.cams.get_flow_calls(FLOW.flow_id)
            if step == "stop a":
                await a.stop()
                continue
            await pollers[0 if step == "a" else 1].cycle()
            polls.append((step, bot.cams.get_flow_calls(FLOW.flow_id) - before))

    assert polls == [("a", 1), ("b", 0), ("b", 1), ("a", 0)]


async def test_a_dead_holders_lease_runs_out_and_another_takes_over(database_url: str) -> None:
    async with watching_bot(database_url, watch=PACED) as (bot, store):
        await bot.command(f"watch {FLOW.flow_id}")
        clock = FakeClock(1000.0)
        a = _poller(bot, store, _on_clock(store, clock), "a", clock)
        b = _poller(bot, store, _on_clock(store, clock), "b", clock)
        calls = bot.cams.get_flow_calls(FLOW.flow_id)
        holding = asyncio.create_task(a.run())
        try:
            # A polls, then waits for its next cycle; B looks three quarters of a poll later,
            # well after a lease taken at A's poll would have run out.
            looks_at = clock.now + 45.0
            wakes_at = clock.now + await clock.next_sleep()
            while wakes_at <= looks_at:
                clock.advance(wakes_at - clock.now)
                wakes_at = clock.now + await clock.next_sleep()
            clock.advance(looks_at - clock.now)
            by_a = bot.cams.get_flow_calls(FLOW.flow_id) - calls
            await b.cycle()
            while_a_lives = bot.cams.get_flow_calls(FLOW.flow_id) - calls - by_a
        finally:
            holding.cancel()
            await asyncio.gather(holding, return_exceptions=True)
        # A died without letting go: its lease (half a poll) runs out.
        clock.advance(31.0)
        await b.cycle()
        after_a = bot.cams.get_flow_calls(FLOW.flow_id) - calls - by_a

    assert by_a == 1
    assert while_a_lives == 0, "a holder waiting between cycles keeps its lease"
    assert after_a == 1
