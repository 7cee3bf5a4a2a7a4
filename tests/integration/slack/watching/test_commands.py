"""`/flowpreview watch`, `unwatch` and `watching` over loopback, on SQLite and PostgreSQL: what
each form watches, who may, where, within which bounds, and what the audit trail keeps."""

from __future__ import annotations

import json

from bot.slack.blocks import messages
from bot.slack.blocks.messages import REFUSED_TEXT
from bot.slack.listeners.commands.watch import NOT_IN_CHANNEL
from bot.standin.slack import payloads
from bot.standin.slack.surfaces import ChannelInfo
from bot.store.audit import AuditOutcome
from tests.integration.slack.watching.harness import (
    CHANNEL,
    FLOW,
    IN_GENERAL,
    SECOND,
    rig,
    text_of,
)
from tests.shared.access import ADMIN, MEMBER, SPACE

LINK = f"https://business.facebook.com/wa/manage/flows/{SECOND.flow_id}/"
ORDER_TRACKING = "3141592653589793"
GUEST = payloads.GUEST_WHO
IN_SHARED = payloads.Who(channel_id=payloads.SHARED_CHANNEL_ID, channel_name="partner-shared")


async def test_a_flow_is_watched_by_its_id_its_link_or_its_name(database_url: str) -> None:
    async with rig(database_url) as r:
        by_id = await r.command(f"watch {FLOW.flow_id}")
        by_link = await r.command(f"watch <{LINK}>")
        by_name = await r.command("watch Order tracking")
        watched = await r.watches()
        records = await r.records()

    for answer in (by_id, by_link, by_name):
        assert "now watches" in answer, answer
    assert [(w.space_id, w.flow_id, w.created_by) for w in watched] == [
        (SPACE, FLOW.flow_id, MEMBER.user_id),
        (SPACE, SECOND.flow_id, MEMBER.user_id),
        (SPACE, ORDER_TRACKING, MEMBER.user_id),
    ]
    assert [(r.outcome, r.flow_id, r.space_id, r.user_id, r.channel_id) for r in records] == [
        (AuditOutcome.WATCHED, flow, SPACE, MEMBER.user_id, CHANNEL)
        for flow in (FLOW.flow_id, SECOND.flow_id, ORDER_TRACKING)
    ]


async def test_a_name_of_several_flows_lists_them_and_watches_none(database_url: str) -> None:
    async with rig(database_url) as r:
        answer = await r.command("watch Sign-up")
        watched = await r.watches()

    assert FLOW.flow_id in answer
    assert "1234567890123401" in answer, "every match is listed, as a search lists them"
    assert "now watches" not in answer
    assert watched == []


async def test_a_whole_space_is_watched_with_space_prefix(database_url: str) -> None:
    async with rig(database_url) as r:
        answer = await r.command(f"watch space:{SPACE}")
        again = await r.command(f"watch space:{SPACE}")
        bad = await r.command("watch space:no/such")
        watched = await r.watches()

    assert "now watches every flow in space" in answer
    assert "already watches every flow" in again
    assert "not a space ID" in bad
    assert [(w.space_id, w.flow_id) for w in watched] == [(SPACE, None)]


async def test_unwatch_stops_a_watch_and_says_so_when_there_was_none(database_url: str) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        await r.command(f"watch space:{SPACE}")
        stopped = await r.command(f"unwatch {FLOW.flow_id}")
        again = await r.command(f"unwatch {FLOW.flow_id}")
        space = await r.command(f"unwatch space:{SPACE}")
        watched = await r.watches()
        records = await r.records()

    assert "no longer watches flow" in stopped
    assert "was not watching" in again
    assert "no longer watches every flow" in space
    assert watched == []
    assert [(r.outcome, r.flow_id) for r in records] == [
        (AuditOutcome.WATCHED, FLOW.flow_id),
        (AuditOutcome.WATCHED, None),
        (AuditOutcome.UNWATCHED, FLOW.flow_id),
        (AuditOutcome.UNWATCHED, None),
    ], "an unwatch of nothing is no record"


async def test_watching_lists_each_watch_with_who_added_it_and_when(database_url: str) -> None:
    async with rig(database_url) as r:
        empty = await r.command("watching")
        await r.command(f"watch {FLOW.flow_id}")
        await r.command(f"watch space:{SPACE}", who=ADMIN)
        await r.command(f"watch {SECOND.flow_id}", who=IN_GENERAL)
        listed = await r.command("watching")

    assert "watches nothing" in empty
    assert f"flow `{FLOW.flow_id}` in space `{SPACE}`, by <@{MEMBER.user_id}>" in listed
    assert f"every flow in space `{SPACE}`, by <@{ADMIN.user_id}>" in listed
    assert json.loads(listed)["text"].count("<!date^") == 2, "each says when it was added"
    assert SECOND.flow_id not in listed, "another channel's watch is not listed"


async def test_a_guest_is_refused_as_for_a_preview_and_it_is_recorded(database_url: str) -> None:
    async with rig(database_url) as r:
        answer = await r.command(f"watch {FLOW.flow_id}", who=GUEST)
        space = await r.command(f"watch space:{SPACE}", who=GUEST)
        watched = await r.watches()
        records = await r.records()

    assert messages.REFUSED_TEXT in answer
    assert messages.REFUSED_TEXT in space
    assert watched == []
    assert [(r.outcome, r.flow_id, r.user_id) for r in records] == [
        (AuditOutcome.REFUSED, FLOW.flow_id, GUEST.user_id),
        (AuditOutcome.REFUSED, None, GUEST.user_id),
    ]


async def test_a_channel_shared_outside_may_not_watch(database_url: str) -> None:
    async with rig(database_url) as r:
        answer = await r.command(f"watch {FLOW.flow_id}", who=IN_SHARED)
        watched = await r.watches(IN_SHARED)
        records = await r.records()

    assert REFUSED_TEXT in answer, "the same sentence as a refused preview"
    assert watched == []
    assert [(r.outcome, r.flow_id, r.channel_id, r.reason) for r in records] == [
        (
            AuditOutcome.REFUSED,
            FLOW.flow_id,
            payloads.SHARED_CHANNEL_ID,
            "refused: the channel may not see the space",
        )
    ]


async def test_a_channel_the_bot_is_not_in_is_told_to_invite_it(database_url: str) -> None:
    async with rig(database_url) as r:
        r.bot.slack.channels[CHANNEL] = ChannelInfo(name="test", is_member=False)
        answer = await r.command(f"watch {FLOW.flow_id}")
        watched = await r.watches()
        records = await r.records()

    assert NOT_IN_CHANNEL in answer
    assert watched == []
    assert AuditOutcome.WATCHED not in [r.outcome for r in records]


async def test_past_a_bound_a_watch_gets_a_sentence(database_url: str) -> None:
    async with rig(database_url, per_channel=2, total=3) as r:
        for flow in (FLOW.flow_id, SECOND.flow_id):
            assert "now watches" in await r.command(f"watch {flow}")
        per_channel = await r.command(f"watch space:{SPACE}")
        assert "now watches" in await r.command(f"watch {FLOW.flow_id}", who=IN_GENERAL)
        in_all = await r.command(f"watch {SECOND.flow_id}", who=IN_GENERAL)
        watched = await r.watches()

    assert "This channel already has 2 watches" in per_channel
    assert "already keeps 3 watches" in in_all
    assert len(watched) == 2


async def test_a_paused_watch_resumes_when_watched_again(database_url: str) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        (watch,) = await r.watches()
        await r.store.watches.pause(watch.id, "permission_denied")
        listed = await r.command("watching")
        answer = await r.command(f"watch {FLOW.flow_id}")
        again = await r.command(f"watch {FLOW.flow_id}")
        (resumed,) = await r.watches()
        records = await r.records()

    assert "(paused: permission_denied)" in listed
    assert "now watches" in answer
    assert "already watches" in again
    assert resumed.id == watch.id
    assert resumed.paused_reason is None
    assert [r.outcome for r in records] == [AuditOutcome.WATCHED, AuditOutcome.WATCHED]


async def test_a_flow_cams_does_not_have_is_not_watched(database_url: str) -> None:
    async with rig(database_url) as r:
        answer = await r.command("watch 1111222233334444")
        watched = await r.watches()

    assert "CAMS has no flow `1111222233334444` in space `cams-demo`" in answer
    assert watched == []


async def test_a_change_before_the_first_poll_is_not_missed(database_url: str) -> None:
    async with rig(database_url) as r:
        await r.command(f"watch {FLOW.flow_id}")
        # Meta blocks the flow before the watch's first poll.
        r.bot.cams.set_status(FLOW.flow_id, "BLOCKED")
        (posted,) = await r.poll_and_post()

    assert "Published → *:octagonal_sign: Blocked*" in text_of(posted)


async def test_a_name_is_looked_for_only_once_the_person_is_admitted(database_url: str) -> None:
    async with rig(database_url) as r:
        answer = await r.command("watch sign up", who=payloads.GUEST_WHO)
        listed = r.bot.cams.emulator.by_action

    assert REFUSED_TEXT in answer
    assert "match" not in answer
    assert FLOW.flow_id not in answer, "a refused person learns no flow of the space"
    assert not listed, "nor does the bot ask CAMS for its flows"
