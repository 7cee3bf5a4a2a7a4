"""Finding flows by name while CAMS is slow: the answer comes later, through response_url."""

from __future__ import annotations

import json
from typing import Any

from bot.cams.actions import Action
from bot.slack.constants import PICK_ACTION_ID
from bot.standin.harness.slack_bot import running_bot
from bot.standin.slack import payloads
from tests.shared.finding import DENTAL, NEWSLETTER, SIGN_UP_V3, SPACE, calls_of, message_text

SIGN_UP_V2 = "1234567890123401"


def _picks(message: dict[str, Any]) -> list[str]:
    """The flows of a match list's Preview buttons, in order."""
    return [
        json.loads(block["accessory"]["value"])["flow"]
        for block in message["blocks"]
        if block.get("accessory", {}).get("action_id") == PICK_ACTION_ID
    ]


async def test_several_matches_are_listed_best_first_with_status_and_buttons() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("sign up")
        message = answer.json()
        picks = _picks(message)
        assert {SIGN_UP_V3, SIGN_UP_V2, NEWSLETTER} <= set(picks)
        assert len(picks) <= 10
        text = message_text(message)
        assert "Deprecated" in text
        assert "Draft" in text
        assert f"space `{SPACE}`" in text
        # A list of matches fetched no preview: search never spends the preview budget.
        assert calls_of(bot, Action.GET_FLOW_PREVIEW_URL) == 0
        assert calls_of(bot, Action.LIST_FLOW) >= 1


async def test_the_preview_button_of_a_match_posts_its_preview() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("sign up")
        message = answer.json()
        block = next(
            block
            for block in message["blocks"]
            if block.get("accessory", {}).get("action_id") == PICK_ACTION_ID
            and json.loads(block["accessory"]["value"])["flow"] == NEWSLETTER
        )
        response_url = bot.slack.new_response_url()
        body = payloads.block_actions(
            block["accessory"],
            block_id=block["block_id"],
            response_url=response_url,
            message_ts=payloads.new_ts(),
        )
        assert (await bot.post(body)).status == 200
        delivery = await bot.slack.next_response(response_url)
        assert delivery.accepted
        assert delivery.message is not None
        text = message_text(delivery.message)
        assert f"/flows/{NEWSLETTER}/preview/" in text
        assert "Draft" in text


async def test_a_cold_catalog_answers_later_through_response_url() -> None:
    async with running_bot(default_space=SPACE, ack_budget=0.2) as bot:
        bot.cams.fault("latency:1@action:ListFlow*1")
        answer, response_url = await bot.command("appointment dental")
        assert "Loading the flow list" in message_text(answer.json())
        delivery = await bot.slack.next_response(response_url, within=30)
        assert delivery.message is not None
        text = message_text(delivery.message)
        assert "Appointment booking" in text
        assert f"/flows/{DENTAL}/" in text or DENTAL in text


async def test_a_slow_getflow_never_holds_the_preview_back() -> None:
    async with running_bot(default_space=SPACE, ack_budget=0.3) as bot:
        bot.cams.fault("latency:20@action:GetFlow")
        answer, _ = await bot.command(SIGN_UP_V3)
        text = message_text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Published" not in text


async def test_a_ready_preview_waits_for_getflow_only_briefly() -> None:
    # A long ack budget, and a GetFlow slower than the grace but well inside that budget:
    # the preview goes out without the status rather than wait for it.
    async with running_bot(default_space=SPACE, ack_budget=10) as bot:
        bot.cams.fault("latency:3@action:GetFlow")
        answer, _ = await bot.command(SIGN_UP_V3)
        text = message_text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Published" not in text
