"""The poster over loopback: a flow's thread, what is broadcast, Slack's limits and refusals, the
Get my preview button, and the audit trail of what was posted."""

from __future__ import annotations

import json

import pytest

from bot.metrics import REGISTRY
from bot.standin.slack import payloads
from bot.standin.slack.garbage import Garbage
from bot.standin.slack.surfaces import ChannelInfo
from bot.store.audit import AuditOutcome
from tests.fake_clock import HANG_GUARD_S, FakeClock
from tests.integration.slack.watching.harness import (
    CHANNEL,
    FLOW,
    IN_GENERAL,
    SECOND,
    Rig,
    poster_of,
    rig,
    text_of,
)
from tests.support import log_capture

GONE_LINE = "is gone for the bot"


def _failures(reason: str) -> float:
    labels = {"reason": reason}
    return REGISTRY.get_sample_value("flowpreview_watch_post_failures_total", labels) or 0.0


def _sent(r: Rig, channel: str = CHANNEL) -> list[dict[str, str]]:
    """The chat.postMessage calls the bot made to `channel`, as Slack received them."""
    return [
        dict(call.params)
        for call in r.bot.slack.api_calls
        if call.method == "chat.postMessage" and call.params.get("channel") == channel
    ]


async def _threads(r: Rig) -> list[str]:
    async with r.store.database.connection() as connection:
        rows = await connection.fetch("SELECT parent_ts FROM watch_threads")
    return [parent_ts for (parent_ts,) in rows]


async def _message_ts(r: Rig) -> list[str | None]:
    async with r.store.database.connection() as connection:
        rows = await connection.fetch("SELECT message_ts FROM watch_deliveries ORDER BY change_id")
    return [message_ts for (message_ts,) in rows]


async def test_a_flows_changes_go_to_its_thread_and_urgent_ones_to_the_channel_too(
    database_url: str,
) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        posted = []
        for status in ("DEPRECATED", "THROTTLED", "BLOCKED", "PUBLISHED"):
            r.bot.cams.set_status(FLOW.flow_id, status)
            posted += await r.poll_and_post()
        threads = await _threads(r)
        message_ts = await _message_ts(r)
        records = await r.records()
    sent = _sent(r)

    (parent,) = threads
    assert message_ts[0] == parent, "the first change's message is the thread"
    assert [p.message.get("thread_ts") for p in posted] == [None, parent, parent, parent]
    assert [s.get("reply_broadcast") for s in sent] == ["false", "true", "true", "false"]
    assert [s.get("unfurl_links") for s in sent] == ["false"] * 4
    assert "Published → *Deprecated*" in text_of(posted[0])
    assert "Throttled" in text_of(posted[1])
    assert [(r.outcome, r.flow_id, r.reason) for r in records[1:]] == [
        (AuditOutcome.POSTED, FLOW.flow_id, "status: PUBLISHED -> DEPRECATED"),
        (AuditOutcome.POSTED, FLOW.flow_id, "status: DEPRECATED -> THROTTLED"),
        (AuditOutcome.POSTED, FLOW.flow_id, "status: THROTTLED -> BLOCKED"),
        (AuditOutcome.POSTED, FLOW.flow_id, "status: BLOCKED -> PUBLISHED"),
    ]


async def test_each_flow_has_a_thread_in_each_channel(database_url: str) -> None:
    async with rig(database_url) as r:
        for flow in (FLOW, SECOND):
            await r.command(f"watch {flow.flow_id}")
        await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        for status in ("DEPRECATED", "BLOCKED"):
            for flow in (FLOW, SECOND):
                r.bot.cams.set_status(flow.flow_id, status)
            await r.poll_and_post()
        threads = await _threads(r)
    here, there = _sent(r), _sent(r, IN_GENERAL.channel_id)

    assert len(threads) == 3, "one per flow per channel"
    assert [s.get("thread_ts") is None for s in here] == [True, True, False, False]
    assert [s.get("thread_ts") is None for s in there] == [True, False]


async def test_posts_to_one_channel_are_a_second_apart(database_url: str) -> None:
    async with rig(database_url) as r:
        for flow in (FLOW, SECOND):
            await r.command(f"watch {flow.flow_id}")
        await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        for flow in (FLOW, SECOND):
            r.bot.cams.set_status(flow.flow_id, "DEPRECATED")
        posted = await r.poll_and_post()

    assert sorted(p.channel for p in posted) == sorted([CHANNEL, CHANNEL, IN_GENERAL.channel_id])
    assert r.post_clock.sleeps == [1.0], "the second post here waited; the one there did not"


async def test_a_rate_limited_post_is_tried_again_after_retry_after(database_url: str) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        r.bot.slack.rate_limit("chat.postMessage", retry_after=2)
        r.bot.cams.set_status(FLOW.flow_id, "BLOCKED")
        posted = await r.poll_and_post()

    assert len(posted) == 1
    assert len(_sent(r)) == 2, "the refused call, then the one Slack took"
    assert r.post_clock.sleeps == [2.0]


async def test_a_post_still_rate_limited_is_put_back_and_posted_later(database_url: str) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        r.bot.slack.rate_limit("chat.postMessage", times=3, retry_after=1)
        r.bot.cams.set_status(FLOW.flow_id, "BLOCKED")
        limited = _failures("rate_limited")
        await r.cycle()
        first = await r.poster.post_pending()
        posted = await r.post()

    assert first == 1
    assert _failures("rate_limited") == limited + 1
    assert len(posted) == 1
    assert len(_sent(r)) == 4


async def test_a_post_during_a_slack_outage_is_put_back_and_posted_later(
    database_url: str,
) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        r.bot.cams.set_status(FLOW.flow_id, "BLOCKED")
        await r.cycle()
        r.bot.slack.garble("chat.postMessage", Garbage.UPSTREAM_ERROR)
        await r.poster.post_pending()
        during = list(r.bot.slack.posts)
        r.bot.slack.garble("chat.postMessage", None)
        posted = await r.post()
        watched = await r.watches()

    assert during == []
    assert len(posted) == 1
    assert len(watched) == 1, "an outage ends no watch"


@pytest.mark.parametrize(
    ("channel", "code"),
    [
        (ChannelInfo(name="test", is_member=False), "not_in_channel"),
        (ChannelInfo(name="test", is_archived=True), "is_archived"),
        (None, "channel_not_found"),
    ],
    ids=["bot-removed", "archived", "channel-deleted"],
)
async def test_a_channel_gone_for_the_bot_ends_its_watches_with_one_log_line(
    database_url: str, channel: ChannelInfo | None, code: str
) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        await r.command(f"watch {SECOND.flow_id}")
        await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        if channel is None:
            del r.bot.slack.channels[CHANNEL]
        else:
            r.bot.slack.channels[CHANNEL] = channel
        failed = _failures(code)
        with log_capture() as logs:
            for flow in (FLOW, SECOND):
                r.bot.cams.set_status(flow.flow_id, "BLOCKED")
            posted = await r.poll_and_post()
            r.bot.cams.set_status(FLOW.flow_id, "PUBLISHED")
            later = await r.poll_and_post()
        here = await r.watches()
        there = await r.watches(IN_GENERAL)

    lines = [line for line in logs.getvalue().splitlines() if GONE_LINE in line]
    assert len(lines) == 1, lines
    assert CHANNEL in lines[0]
    assert code in lines[0]
    assert _failures(code) == failed + 1
    assert here == []
    assert len(there) == 1
    assert [p.channel for p in [*posted, *later]] == [IN_GENERAL.channel_id] * 2
    assert len(_sent(r)) == 1, "one try there, and none once its watches ended"


async def test_a_refused_post_is_not_tried_again(database_url: str) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        r.bot.cams.set_status(FLOW.flow_id, "BLOCKED")
        await r.cycle()
        refused = poster_of(r.bot, r.store, FakeClock(sleep_advances=True), token="xoxb-revoked")
        with log_capture() as logs:
            claimed = await refused.post_pending()
            again = await refused.post_pending()
        watched = await r.watches()

    assert (claimed, again) == (1, 0)
    assert "invalid_auth" in logs.getvalue()
    assert len(watched) == 1, "the channel is not the problem: its watch goes on"


async def test_get_my_preview_answers_the_clicker_alone(database_url: str) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        r.bot.cams.set_status(FLOW.flow_id, "DEPRECATED")
        (posted,) = await r.poll_and_post()
        actions = next(b for b in posted.message["blocks"] if b["type"] == "actions")
        (button,) = actions["elements"]
        answers = {}
        for who in (payloads.DEFAULT_WHO, payloads.GUEST_WHO):
            response_url = r.bot.slack.new_response_url()
            click = payloads.block_actions(
                button,
                block_id=actions.get("block_id", "b"),
                response_url=response_url,
                message_ts="1.2",
                message=posted.message,
                who=who,
            )
            assert (await r.bot.post(click)).status == 200
            answer = await r.bot.slack.next_response(response_url, within=HANG_GUARD_S)
            assert answer.message is not None
            answers[who.user_id] = answer.message

    mine = answers[payloads.DEFAULT_WHO.user_id]
    assert mine.get("response_type") == "ephemeral"
    assert mine.get("replace_original") is not True, "the channel's message stays"
    assert "token=" in json.dumps(mine), "the clicker's own preview link"
    refused = json.dumps(answers[payloads.GUEST_WHO.user_id])
    assert "don't have access" in refused
    assert "token=" not in refused


async def test_a_channel_shared_outside_since_the_watch_began_hears_no_more(
    database_url: str,
) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        r.bot.slack.channels[CHANNEL] = ChannelInfo(name="test", is_ext_shared=True)
        r.bot.cams.set_status(FLOW.flow_id, "BLOCKED")
        await r.cycle()
        with log_capture() as logs:
            posted = await r.post()
        watched = await r.watches()

    assert posted == []
    assert watched == []
    assert "may no longer see space" in logs.getvalue()
