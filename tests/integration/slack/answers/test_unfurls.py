"""Link unfurls over loopback: signed link_shared events in, chat.unfurl and clicks out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.access.ids import Kind
from bot.slack.constants import GET_MY_PREVIEW_ACTION_ID, SHARE_ACTION_ID
from bot.standin.harness.slack_bot import Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.surfaces import ChannelInfo, Unfurl
from bot.store.audit import AuditOutcome
from tests.fake_clock import HANG_GUARD_S
from tests.shared.access import SPACE, guarded_bot

FLOW = "1234567890123456"
OTHER_FLOW = "2234567890123456"
LINK = f"https://business.facebook.com/wa/manage/flows/{FLOW}/preview/"
PREVIEW_LINK = f"https://business.facebook.com/wa/manage/flows/{FLOW}/preview/?token=abc123"


@pytest.fixture
async def open_bot() -> AsyncIterator[Bot]:
    """A bot without a store: no rules, every space open to members."""
    async with running_bot(default_space=SPACE) as bot:
        yield bot


async def _paste(bot: Bot, *urls: str, **kwargs: Any) -> Unfurl:
    with bot.slack.subscribe_unfurls() as unfurls:
        answer = await bot.post(payloads.event_callback(payloads.link_shared(urls, **kwargs)))
        assert answer.status == 200
        return await _next(unfurls)


async def _next(queue: Any) -> Unfurl:
    async with asyncio.timeout(HANG_GUARD_S):
        unfurl: Unfurl = await queue.get()
    return unfurl


def _card_text(unfurl: Unfurl, url: str) -> str:
    return json.dumps(unfurl.unfurls[url]["blocks"])


def _no_link_anywhere(bot: Bot) -> None:
    """No chat.unfurl or views.publish body the bot sent holds a preview link or its token."""
    bodies = [
        json.dumps(dict(call.params))
        for call in bot.slack.api_calls
        if call.method in ("chat.unfurl", "views.publish")
    ]
    assert bodies
    for body in bodies:
        assert "token=" not in body
        assert "abc123" not in body
        assert "/preview/?" not in body


async def test_a_flow_link_in_an_open_unshared_channel_gets_a_full_card(open_bot: Bot) -> None:
    unfurl = await _paste(open_bot, LINK)

    assert (unfurl.channel, unfurl.source) == (payloads.DEFAULT_WHO.channel_id, None)
    text = _card_text(unfurl, LINK)
    assert FLOW in text
    assert f"`{SPACE}`" in text
    assert GET_MY_PREVIEW_ACTION_ID in text
    # The channel was asked about once, and GetFlow for the name and status.
    methods = [call.method for call in open_bot.slack.api_calls]
    assert methods.count("conversations.info") == 1
    assert open_bot.cams.emulator.by_action.get("GetFlow") == 1
    assert "GetFlowPreviewUrl" not in open_bot.cams.emulator.by_action, "no link is fetched"
    _no_link_anywhere(open_bot)


async def test_a_channel_shared_outside_gets_a_card_that_names_nothing(open_bot: Bot) -> None:
    unfurl = await _paste(open_bot, LINK, channel=payloads.SHARED_CHANNEL_ID)

    text = _card_text(unfurl, LINK)
    assert SPACE not in text
    assert "WhatsApp flow link" in text
    assert open_bot.cams.emulator.by_action == {}, "nothing is asked of CAMS for it"


async def test_a_channel_slack_cannot_describe_is_taken_as_shared(open_bot: Bot) -> None:
    unfurl = await _paste(open_bot, LINK, channel="C0UNKNOWN1")
    assert SPACE not in _card_text(unfurl, LINK)


async def test_in_the_composer_the_card_names_nothing_and_goes_by_unfurl_id(open_bot: Bot) -> None:
    unfurl = await _paste(open_bot, LINK, source="composer")

    assert unfurl.source == "composer"
    assert unfurl.unfurl_id
    assert unfurl.channel is None
    assert unfurl.ts is None
    assert SPACE not in _card_text(unfurl, LINK)


async def test_other_links_on_the_domain_get_no_answer(open_bot: Bot) -> None:
    others = [
        "https://business.facebook.com/latest/inbox",
        "https://business.facebook.com/wa/manage/message-templates/",
        "http://business.facebook.com/wa/manage/flows/1234567890123456/",
        "https://evil.example/wa/manage/flows/1234567890123456/",
    ]
    answer = await open_bot.post(payloads.event_callback(payloads.link_shared(others)))
    assert answer.status == 200
    assert await open_bot.inflight.idle(HANG_GUARD_S)
    assert open_bot.slack.unfurls == []
    assert [c.method for c in open_bot.slack.api_calls] == ["auth.test"]


async def test_at_most_five_flows_per_message_and_each_flow_once(open_bot: Bot) -> None:
    urls = [f"https://business.facebook.com/wa/manage/flows/{n}00000000000/" for n in range(1, 8)]
    twice = [urls[0] + "?x=1", *urls]
    unfurl = await _paste(open_bot, *twice)
    assert list(unfurl.unfurls) == twice[:1] + urls[1:5]


async def test_the_same_flow_is_not_unfurled_twice_in_a_channel(open_bot: Bot) -> None:
    await _paste(open_bot, LINK)
    answer = await open_bot.post(payloads.event_callback(payloads.link_shared([LINK])))
    assert answer.status == 200
    assert await open_bot.inflight.idle(HANG_GUARD_S)
    assert len(open_bot.slack.unfurls) == 1
    # Elsewhere it is.
    await _paste(open_bot, LINK, channel="C0GENERAL1")
    assert len(open_bot.slack.unfurls) == 2


async def test_a_pasted_preview_link_is_not_unfurled_and_its_poster_is_warned(
    open_bot: Bot,
) -> None:
    unfurl = await _paste(open_bot, PREVIEW_LINK, LINK.replace(FLOW, OTHER_FLOW))
    warning = await open_bot.slack.next_ephemeral(within=HANG_GUARD_S)

    assert warning.user == payloads.DEFAULT_WHO.user_id
    assert warning.channel == payloads.DEFAULT_WHO.channel_id
    assert "anyone in the conversation can open" in json.dumps(warning.message)
    # chat.unfurl names a card by the URL pasted: the preview link gets none, so its token
    # never goes back out; the other link in the message does.
    assert list(unfurl.unfurls) == [LINK.replace(FLOW, OTHER_FLOW)]
    _no_link_anywhere(open_bot)


@pytest.mark.parametrize(
    "link",
    [
        PREVIEW_LINK,
        # Slack sends links entity-encoded; a token in any spelling counts.
        f"https://business.facebook.com/wa/manage/flows/{FLOW}/preview/?lang=en&amp;token=abc123",
        f"https://business.facebook.com/wa/manage/flows/{FLOW}/?Token=abc123",
        f"https://business.facebook.com/wa/manage/flows/{FLOW}/#token=abc123",
    ],
)
async def test_a_message_with_only_a_preview_link_gets_the_warning_alone(
    open_bot: Bot, link: str
) -> None:
    body = payloads.event_callback(payloads.link_shared([link]))
    assert (await open_bot.post(body)).status == 200
    await open_bot.slack.next_ephemeral(within=HANG_GUARD_S)
    assert await open_bot.inflight.idle(HANG_GUARD_S)
    assert open_bot.slack.unfurls == []


async def test_a_rate_limited_unfurl_is_sent_again_after_retry_after(open_bot: Bot) -> None:
    open_bot.slack.rate_limit("chat.unfurl", times=1, retry_after=0)
    await _paste(open_bot, LINK)
    assert [c.method for c in open_bot.slack.api_calls].count("chat.unfurl") == 2


async def test_get_my_preview_answers_the_clicker_alone_with_their_link(open_bot: Bot) -> None:
    unfurl = await _paste(open_bot, LINK)
    blocks = unfurl.unfurls[LINK]["blocks"]
    button = next(e for b in blocks if b["type"] == "actions" for e in b["elements"])
    response_url = open_bot.slack.new_response_url()
    click = payloads.unfurl_block_actions(
        button,
        block_id="b",
        response_url=response_url,
        message_ts=unfurl.ts or "",
        url=LINK,
        blocks=blocks,
    )
    assert (await open_bot.post(click)).status == 200
    answer = await open_bot.slack.next_response(response_url, within=HANG_GUARD_S)

    assert answer.accepted
    assert answer.message is not None
    assert answer.message["response_type"] == "ephemeral"
    assert answer.message["replace_original"] is False
    assert f"/flows/{FLOW}/preview" in json.dumps(answer.message)


async def test_with_rules_the_card_names_the_flow_only_in_admitted_channels(
    database_url: str,
) -> None:
    async with guarded_bot(database_url) as (bot, store):
        gate = bot.gate
        assert gate is not None
        await gate.book.allow(SPACE, Kind.CHANNEL, ["C0GENERAL1"], by="operator")
        admitted = await _paste(bot, LINK, channel="C0GENERAL1")
        refused = await _paste(bot, LINK)

        assert f"`{SPACE}`" in _card_text(admitted, LINK)
        assert SPACE not in _card_text(refused, LINK)
        # A channel rule decides without asking Slack about the channel.
        assert "conversations.info" not in [c.method for c in bot.slack.api_calls]

        # A click in the channel the rules leave out is refused for a member there, and recorded.
        button = next(
            e
            for b in refused.unfurls[LINK]["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        )
        response_url = bot.slack.new_response_url()
        click = payloads.unfurl_block_actions(
            button, block_id="b", response_url=response_url, message_ts="1.2", url=LINK
        )
        assert (await bot.post(click)).status == 200
        answer = await bot.slack.next_response(response_url, within=HANG_GUARD_S)
        assert answer.message is not None
        assert "don't have access" in json.dumps(answer.message)
        assert await store.audit.flush(HANG_GUARD_S)
        records = await store.audit.query()
    assert [(r.outcome, r.flow_id) for r in records] == [(AuditOutcome.REFUSED, FLOW)]
    assert "GetFlowPreviewUrl" not in bot.cams.emulator.by_action


async def test_without_a_space_configured_the_card_names_nothing() -> None:
    async with running_bot() as bot:
        unfurl = await _paste(bot, LINK)
    assert "WhatsApp flow link" in _card_text(unfurl, LINK)
    assert bot.cams.emulator.by_action == {}


async def test_a_share_into_a_channel_shared_outside_names_only_the_sharer(
    open_bot: Bot,
) -> None:
    who = payloads.Who(channel_id=payloads.SHARED_CHANNEL_ID, channel_name="partner-shared")
    answer, _ = await open_bot.command(FLOW, who=who)
    share = next(
        element
        for block in answer.json()["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == SHARE_ACTION_ID
    )
    response_url = open_bot.slack.new_response_url()
    click = payloads.block_actions(
        share, block_id="a", response_url=response_url, message_ts=payloads.new_ts(), who=who
    )
    assert (await open_bot.post(click)).status == 200
    posted = await open_bot.slack.next_response(response_url, within=HANG_GUARD_S)

    assert posted.message is not None
    card = json.dumps(posted.message["blocks"])
    assert "shared a WhatsApp flow" in card
    assert f"`{SPACE}`" not in card
    assert "https://" not in json.dumps(posted.message)


async def test_the_warning_goes_into_the_thread_the_link_was_pasted_in(open_bot: Bot) -> None:
    body = payloads.event_callback(payloads.link_shared([PREVIEW_LINK], thread_ts="1700000000.1"))
    assert (await open_bot.post(body)).status == 200
    warning = await open_bot.slack.next_ephemeral(within=HANG_GUARD_S)
    assert warning.message["thread_ts"] == "1700000000.1"


@pytest.mark.parametrize("member", [True, False])
async def test_where_the_bot_may_not_post_the_warning_comes_as_a_direct_message(
    open_bot: Bot, member: bool
) -> None:
    open_bot.slack.channels["C0NOTIN001"] = ChannelInfo(name="elsewhere", is_member=False)
    event = payloads.link_shared([PREVIEW_LINK], channel="C0NOTIN001", is_bot_user_member=member)
    assert (await open_bot.post(payloads.event_callback(event))).status == 200
    direct = await open_bot.slack.next_post(within=HANG_GUARD_S)

    assert direct.channel == payloads.DEFAULT_WHO.user_id
    assert "preview link" in direct.message["text"]
    assert "abc123" not in json.dumps(direct.message)
    assert open_bot.slack.ephemerals == []
