"""Finding flows by name over loopback: `/flowpreview <words>`, the match list, the shortcut,
and the name and status on every preview."""

from __future__ import annotations

import json
from typing import Any

from bot.cams.actions import Action
from bot.slack.constants import PICK_ACTION_ID
from bot.standin.harness.slack_bot import Bot, running_bot
from bot.standin.slack import payloads

SPACE = "cams-demo"
SIGN_UP_V3 = "1234567890123456"
SIGN_UP_V2 = "1234567890123401"
NEWSLETTER = "1234567890123402"
DENTAL = "9876543210987601"


def _text(message: dict[str, Any]) -> str:
    return json.dumps(message.get("blocks", []), ensure_ascii=False)


def _calls(bot: Bot, action: Action) -> int:
    by_action: dict[str, int] = bot.cams.emulator.stats()["by_action"]
    return by_action.get(action.value, 0)


def _picks(message: dict[str, Any]) -> list[str]:
    """The flows of a match list's Preview buttons, in order."""
    return [
        json.loads(block["accessory"]["value"])["flow"]
        for block in message["blocks"]
        if block.get("accessory", {}).get("action_id") == PICK_ACTION_ID
    ]


async def test_one_clear_match_answers_with_its_preview_name_and_status() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("sign-up V3")
        text = _text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Sign-up v3" in text
        assert "Published" in text


async def test_several_matches_are_listed_best_first_with_status_and_buttons() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("sign up")
        message = answer.json()
        picks = _picks(message)
        assert {SIGN_UP_V3, SIGN_UP_V2, NEWSLETTER} <= set(picks)
        assert len(picks) <= 10
        text = _text(message)
        assert "Deprecated" in text
        assert "Draft" in text
        assert f"space `{SPACE}`" in text
        # A list of matches fetched no preview: search never spends the preview budget.
        assert _calls(bot, Action.GET_FLOW_PREVIEW_URL) == 0
        assert _calls(bot, Action.LIST_FLOW) >= 1


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
        text = _text(delivery.message)
        assert f"/flows/{NEWSLETTER}/preview/" in text
        assert "Draft" in text


async def test_no_match_names_the_space_and_says_what_to_try() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("zebra crossing")
        text = _text(answer.json())
        assert "No flow among the 40 flows in space" in text
        assert f"`{SPACE}`" in text
        assert "Try fewer or shorter words" in text


async def test_space_prefix_searches_another_space() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command("sign up v3 space:cams-acme")
        text = _text(answer.json())
        assert "`cams-acme`" in text
        assert f"/flows/{SIGN_UP_V3}/" not in text


async def test_search_without_any_space_says_how_to_give_one() -> None:
    async with running_bot() as bot:
        answer, _ = await bot.command("sign up")
        assert "needs a CAMS space" in _text(answer.json())
        assert _calls(bot, Action.LIST_FLOW) == 0


async def test_denied_listflow_turns_search_off_but_ids_still_work() -> None:
    async with running_bot(default_space=SPACE) as bot:
        bot.cams.fault("error:Ram.PermissionDeny@action:ListFlow")
        answer, _ = await bot.command("sign up")
        text = _text(answer.json())
        assert "cams:ListFlow" in text
        assert "Search by name is not available" in text
        answer, _ = await bot.command(SIGN_UP_V3)
        assert f"/flows/{SIGN_UP_V3}/preview/" in _text(answer.json())
        answer, _ = await bot.command("help")
        assert "Search by name is off" in _text(answer.json())


async def test_a_cold_catalog_answers_later_through_response_url() -> None:
    async with running_bot(default_space=SPACE, ack_budget=0.2) as bot:
        bot.cams.fault("latency:1@action:ListFlow*1")
        answer, response_url = await bot.command("appointment dental")
        assert "Loading the flow list" in _text(answer.json())
        delivery = await bot.slack.next_response(response_url, within=30)
        assert delivery.message is not None
        text = _text(delivery.message)
        assert "Appointment booking" in text
        assert f"/flows/{DENTAL}/" in text or DENTAL in text


async def test_a_draft_preview_says_so_in_plain_words() -> None:
    async with running_bot(default_space=SPACE) as bot:
        answer, _ = await bot.command(NEWSLETTER)
        text = _text(answer.json())
        assert "Sign up \u2013 newsletter" in text
        assert "not published yet" in text


async def test_a_slow_getflow_never_holds_the_preview_back() -> None:
    async with running_bot(default_space=SPACE, ack_budget=0.3) as bot:
        bot.cams.fault("latency:20@action:GetFlow")
        answer, _ = await bot.command(SIGN_UP_V3)
        text = _text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Published" not in text


async def test_denied_getflow_still_previews_with_the_catalog_name() -> None:
    async with running_bot(default_space=SPACE) as bot:
        bot.cams.fault("error:Ram.PermissionDeny@action:GetFlow")
        await bot.service.catalog.wait(SPACE, 10)
        answer, _ = await bot.command(SIGN_UP_V3)
        text = _text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Sign-up v3" in text
        assert "Published" not in text


async def test_the_shortcut_finds_flows_by_name_in_a_message() -> None:
    async with running_bot(default_space=SPACE) as bot:
        await bot.service.catalog.wait(SPACE, 10)
        response_url = bot.slack.new_response_url()
        message = payloads.message_from_text(
            "Can someone check *Appointment booking \u2013 Dental* before Friday? Please sign up "
            "for the review."
        )
        body = payloads.message_shortcut(message, response_url=response_url)
        assert (await bot.post(body)).status == 200
        delivery = await bot.slack.next_response(response_url)
        assert delivery.message is not None
        text = _text(delivery.message)
        assert f"/flows/{DENTAL}/preview/" in text
        # "sign up" in passing is no flow's whole name: it names nothing.
        assert SIGN_UP_V3 not in text
        assert NEWSLETTER not in text


async def test_a_ready_preview_waits_for_getflow_only_briefly() -> None:
    # A long ack budget, and a GetFlow slower than the grace but well inside that budget:
    # the preview goes out without the status rather than wait for it.
    async with running_bot(default_space=SPACE, ack_budget=10) as bot:
        bot.cams.fault("latency:3@action:GetFlow")
        answer, _ = await bot.command(SIGN_UP_V3)
        text = _text(answer.json())
        assert f"/flows/{SIGN_UP_V3}/preview/" in text
        assert "Published" not in text
