"""Answers from the cache are rendered once and sent as they are, until what they show changes."""

from __future__ import annotations

import contextlib
import json

from slack_bolt.async_app import AsyncAck

from bot.cams.errors import CamsError
from bot.slack.admission.auditing import Auditor
from bot.slack.answers.delivery import Delivery
from bot.slack.constants import EVENTS_PATH
from bot.slack.edge.inflight import InFlight
from bot.slack.edge.replies import ReplyPoster
from bot.slack.edge.reply_hosts import ReplyHosts
from bot.standin.harness.slack_bot import SIGNING_SECRET, Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.signing import signed_headers

FLOW = "1234567890123456"
OTHER = "6543210987654321"
SPACE = "cams-x"
DAY = 86400.0


def _body(ack: AsyncAck) -> str:
    """What Bolt will send for the ack, checked to be the JSON that Slack reads."""
    assert ack.response is not None
    assert ack.response.headers["content-type"] == ["application/json;charset=utf-8"]
    return ack.response.body


def _ack() -> AsyncAck:
    """Bolt's own ack, as a listener is handed it."""
    return AsyncAck()  # type: ignore[no-untyped-call]


def _left(answer: str) -> str:
    (section, *_) = (b for b in json.loads(answer)["blocks"] if "Link expires" in str(b))
    text: str = section["text"]["text"]
    start = text.index("(", text.index("Link expires"))
    return text[start + 1 : text.index(")", start)]


async def _delivery(bot: Bot, now: list[float]) -> Delivery:
    # Without a default space no GetFlow is wanted: the previews alone make the answer.
    for flow_id in (FLOW, OTHER):
        await bot.service.get(flow_id)
    await bot.service.get(FLOW, SPACE)
    # The emulator does not know the flow in that space: "not found" is cached, and enough.
    with contextlib.suppress(CamsError):
        await bot.service.details.get(FLOW, SPACE)
    hosts = ReplyHosts((bot.slack.reply_host,))
    auditor = Auditor(None, bot.service.client.space_for)
    replies = ReplyPoster(hosts)
    return Delivery(bot.service, InFlight(), replies, auditor, wall_clock=lambda: now[0])


async def test_the_same_flows_get_the_same_answer_rendered_once() -> None:
    async with running_bot() as bot:
        now = [0.0]
        delivery = await _delivery(bot, now)
        expires = bot.service.peek(FLOW)
        assert expires is not None
        ack = _ack()

        now[0] = expires.expires_at.timestamp() - 3 * DAY - 60  # type: ignore[union-attr]
        await delivery.answer_in_ack(ack, "", [FLOW], None)
        first = _body(ack)
        now[0] += 30
        await delivery.answer_in_ack(ack, "", [FLOW], None)

        # Not only equal: the very string rendered the first time.
        assert _body(ack) is first
        assert _left(first) == "3 days left"


async def test_the_answer_moves_with_the_time_left_the_flows_and_the_space() -> None:
    async with running_bot() as bot:
        now = [0.0]
        delivery = await _delivery(bot, now)
        preview = bot.service.peek(FLOW)
        assert preview is not None
        expires_at = preview.expires_at.timestamp()  # type: ignore[union-attr]
        ack = _ack()

        now[0] = expires_at - 2 * DAY - 1
        await delivery.answer_in_ack(ack, "", [FLOW], None)
        two_days = _body(ack)
        now[0] = expires_at - 2 * DAY + 1
        await delivery.answer_in_ack(ack, "", [FLOW], None)
        one_day = _body(ack)
        await delivery.answer_in_ack(ack, "", [FLOW, OTHER], None)
        both = _body(ack)
        await delivery.answer_in_ack(ack, "", [FLOW], SPACE)
        in_space = _body(ack)

        assert _left(two_days) == "2 days left"
        assert _left(one_day) == "1 day left"
        assert OTHER not in one_day
        assert FLOW in both
        assert OTHER in both
        assert f"Space `{SPACE}`" in in_space
        assert "Space" not in one_day


async def test_a_cached_answer_reaches_slack_as_json(bot: Bot) -> None:
    await bot.command(FLOW)
    body = payloads.slash_command(FLOW, response_url=bot.slack.new_response_url())
    async with bot.session.post(
        bot.url + EVENTS_PATH, data=body, headers=signed_headers(SIGNING_SECRET, body)
    ) as answer:
        assert answer.content_type == "application/json"
        message = await answer.json()

    assert message["response_type"] == "ephemeral"
    assert any(block["type"] == "actions" for block in message["blocks"])
    assert bot.cams.emulator.by_flow == {FLOW: 1}
