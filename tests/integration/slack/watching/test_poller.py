"""The poller over loopback: a change found once and posted once per watching channel, flows
that appear and go, watches CAMS refuses, and GetFlow's budget (paced, yielding to people)."""

from __future__ import annotations

import asyncio

import pytest

from bot.cams.actions import Action
from bot.metrics import REGISTRY
from bot.preview.limiter import LimiterSettings
from bot.slack.watching.poller import BUSY_RETRY_S
from bot.slack.watching.settings import WatchSettings
from bot.standin.cams.catalog import FEATURED
from tests.fake_clock import FakeClock
from tests.integration.slack.watching.harness import (
    CHANNEL,
    FLOW,
    IN_GENERAL,
    SECOND,
    SMALL_SPACE,
    rig,
    rig_of,
    small_space,
    text_of,
    watching_bot,
)
from tests.shared.access import SPACE

NEWSLETTER = FEATURED[2]
PACED = WatchSettings(poll_s=60.0, max_qps=1.0)


def _busy(action: Action) -> float:
    return REGISTRY.get_sample_value("flowpreview_busy_total", {"action": action}) or 0.0


def _cycle_seconds() -> float | None:
    return REGISTRY.get_sample_value("flowpreview_watch_cycle_seconds")


async def test_a_change_is_posted_once_to_each_channel_however_its_watches_overlap(
    database_url: str,
) -> None:
    async with rig(database_url) as r:
        small_space(r.bot)
        await r.command(f"watch {FLOW.flow_id}")
        await r.command(f"watch space:{SPACE}")
        await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        first = await r.poll_and_post()
        r.bot.cams.set_status(FLOW.flow_id, "DEPRECATED")
        changed = await r.poll_and_post()
        again = [*await r.poll_and_post(), *await r.poll_and_post()]

    assert first == [], "the first look at a flow is no change"
    assert sorted(p.channel for p in changed) == sorted([CHANNEL, IN_GENERAL.channel_id])
    for posted in changed:
        assert "Published → *Deprecated*" in text_of(posted)
    assert again == [], "later cycles find nothing new"


async def test_a_removed_flow_is_posted_once_and_its_flow_watches_end(database_url: str) -> None:
    async with rig(database_url) as r:
        small_space(r.bot)
        await r.command(f"watch {FLOW.flow_id}")
        await r.command(f"watch space:{SPACE}")
        await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        await r.command(f"watch {SECOND.flow_id}", who=IN_GENERAL)
        await r.poll_and_post()
        r.bot.cams.remove_flow(FLOW.flow_id)
        removed = await r.poll_and_post()
        later = await r.poll_and_post()
        here = await r.watches()
        there = await r.watches(IN_GENERAL)

    assert sorted(p.channel for p in removed) == sorted([CHANNEL, IN_GENERAL.channel_id])
    for posted in removed:
        assert "is gone from" in text_of(posted)
        assert "Get my preview" not in text_of(posted)
    assert later == []
    assert [(w.flow_id) for w in here] == [None], "the space's watch goes on"
    assert [(w.flow_id) for w in there] == [SECOND.flow_id]


async def test_a_flow_that_appears_in_a_watched_space_is_posted_as_new(database_url: str) -> None:
    async with rig(database_url) as r:
        small_space(r.bot)
        # Not there at the space's first listing, which is the baseline.
        r.bot.cams.remove_flow(NEWSLETTER.flow_id)
        await r.command(f"watch space:{SPACE}")
        await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        first = await r.poll_and_post()
        r.bot.cams.set_status(NEWSLETTER.flow_id, "DRAFT")
        new = await r.poll_and_post()
        later = await r.poll_and_post()

    assert first == []
    assert [p.channel for p in new] == [CHANNEL], "only the space's watchers hear of it"
    assert ":new: New flow" in text_of(new[0])
    assert NEWSLETTER.name in text_of(new[0])
    assert later == []


async def test_a_refused_getflow_pauses_the_watch_with_one_message(database_url: str) -> None:
    async with rig(database_url) as r:
        small_space(r.bot)
        await r.command(f"watch space:{SPACE}")
        await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        await r.poll_and_post()
        r.bot.cams.fault("error:Ram.PermissionDeny@action:GetFlow")
        paused = await r.poll_and_post()
        calls = sum(r.bot.cams.get_flow_calls(flow.flow_id) for flow in SMALL_SPACE)
        later = await r.poll_and_post()
        calls_later = sum(r.bot.cams.get_flow_calls(flow.flow_id) for flow in SMALL_SPACE)
        here = await r.watches()
        there = await r.watches(IN_GENERAL)

    assert sorted(p.channel for p in paused) == sorted([CHANNEL, IN_GENERAL.channel_id])
    for posted in paused:
        assert "I stopped watching" in text_of(posted)
        assert "permission_denied" in text_of(posted)
    assert later == []
    assert calls_later == calls, "a paused watch is polled no more"
    assert [w.paused_reason for w in [*here, *there]] == ["permission_denied"] * 2


async def test_a_refused_flow_list_pauses_the_space_watch_with_one_message(
    database_url: str,
) -> None:
    async with rig(database_url) as r:
        small_space(r.bot)
        r.bot.cams.fault("error:Ram.PermissionDeny@action:ListFlow")
        await r.command(f"watch space:{SPACE}")
        paused = await r.poll_and_post()
        later = await r.poll_and_post()
        (watch,) = await r.watches()

    assert [p.channel for p in paused] == [CHANNEL]
    assert "I stopped watching every flow" in text_of(paused[0])
    assert later == []
    assert watch.paused_reason == "permission_denied"


async def test_polls_are_paced_to_watch_max_qps(database_url: str) -> None:
    async with rig(database_url, watch=PACED) as r:
        for flow in FEATURED[:3]:
            await r.command(f"watch {flow.flow_id}")
        looked_up = [r.bot.cams.get_flow_calls(flow.flow_id) for flow in FEATURED[:3]]
        started = r.clock.now
        await r.cycle()
        polled = [r.bot.cams.get_flow_calls(flow.flow_id) for flow in FEATURED[:3]]

    assert r.clock.sleeps == [1.0, 1.0], "one GetFlow a second, never a burst"
    assert r.clock.now - started == 2.0
    assert [after - before for before, after in zip(looked_up, polled, strict=True)] == [1] * 3


async def _run_until_second_cycle(
    database_url: str, settings: WatchSettings
) -> tuple[list[float], list[float], float | None]:
    """Run a poller of three watched flows on a clock the test moves: the paces of its first
    cycle, its waits until the second cycle's first poll, and the cycle time it reported."""
    async with watching_bot(database_url, watch=settings) as (bot, store):
        for flow in FEATURED[:3]:
            await bot.command(f"watch {flow.flow_id}")
        # The command looked the flow up once; each cycle polls it once.
        second_cycle = bot.cams.get_flow_calls(FLOW.flow_id) + 2
        clock = FakeClock(1000.0)
        r = rig_of(bot, store, settings=settings, clock=clock)
        running = asyncio.create_task(r.poller.run())
        try:
            paces = []
            for _ in range(2):
                paces.append(await clock.next_sleep())
                clock.advance(paces[-1])
            waits = []
            while True:
                wait = await clock.next_sleep()
                if bot.cams.get_flow_calls(FLOW.flow_id) == second_cycle:
                    # The second cycle's first poll went out: this is the pace before the next.
                    break
                waits.append(wait)
                clock.advance(wait)
            measured = _cycle_seconds()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    return paces, waits, measured


async def test_cycles_start_watch_poll_s_apart(database_url: str) -> None:
    paces, waits, measured = await _run_until_second_cycle(database_url, PACED)

    assert paces == [1.0, 1.0]
    # The lease (half a poll) is renewed a third of the way through it, wait after wait.
    assert waits == [10.0] * 5 + [8.0], "the next cycle starts WATCH_POLL_S after this one did"
    assert measured == 60.0


async def test_a_cycle_longer_than_watch_poll_s_is_followed_at_once(database_url: str) -> None:
    stretched = WatchSettings(poll_s=1.0, max_qps=1.0)
    paces, waits, measured = await _run_until_second_cycle(database_url, stretched)

    assert paces == [1.0, 1.0]
    # Three flows at one a second take longer than WATCH_POLL_S: the next cycle waits only
    # for its first poll's turn.
    assert waits == [1.0]
    assert measured == 2.0


async def test_a_poll_steps_aside_for_a_persons_lookup_and_is_tried_again(
    database_url: str,
) -> None:
    # GetFlow's budget is one call a fifth of a second: a person's lookup books it.
    limiter = LimiterSettings(rate=1, period=0.2, margin=0.0)
    async with rig(database_url, limiter=limiter) as r:
        await r.command(f"watch {FLOW.flow_id}")
        r.bot.cams.set_status(FLOW.flow_id, "THROTTLED")
        busy = _busy(Action.GET_FLOW)
        looked_up = r.bot.cams.get_flow_calls(FLOW.flow_id)
        await r.bot.service.client.get_flow(FLOW.flow_id, SPACE)
        await r.poller.cycle()
        calls = r.bot.cams.get_flow_calls(FLOW.flow_id) - looked_up
        known = await r.store.watches.known(SPACE)

    assert pytest.approx(r.clock.sleeps[0]) == BUSY_RETRY_S, "the poll found the budget booked"
    assert _busy(Action.GET_FLOW) == busy, "which is not a person refused"
    assert calls == 2, "the person's, then the poll's: one that stepped aside never went out"
    assert known[FLOW.flow_id][1] == "THROTTLED", "the poll went through later in the cycle"
