"""Cards the whole channel sees: never a link, names only what the channel may see."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.models.blocks import Block

from bot.cams.models import FlowDetails, FlowStatus
from bot.slack.blocks import cards
from bot.slack.constants import GET_MY_PREVIEW_ACTION_ID
from bot.slack.listeners.actions.clicks import button_target

FLOW = "1234567890123456"
ABOUT = FlowDetails(FLOW, "Sign up *bold* <!here>", FlowStatus.DRAFT, (), "R1")


def _rebuild(blocks: list[dict[str, Any]]) -> None:
    for block in Block.parse_all(blocks):
        block.to_dict()


def _button(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    buttons = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert len(buttons) == 1
    button: dict[str, Any] = buttons[0]
    assert button["action_id"] == GET_MY_PREVIEW_ACTION_ID
    return button


def test_a_card_the_channel_may_see_names_the_flow_its_status_and_space() -> None:
    blocks = cards.unfurl_blocks(FLOW, space="acme", about=ABOUT, visible=True)
    _rebuild(blocks)
    text = json.dumps(blocks)

    assert "Sign up" in text
    assert "Draft" in text
    assert "`acme`" in text
    assert "<!here>" not in text, "a name is shown inert"
    assert button_target(_button(blocks)["value"]) == (FLOW, "acme", False)


def test_a_card_the_channel_may_not_see_says_only_what_the_link_is() -> None:
    blocks = cards.unfurl_blocks(FLOW, space="acme", about=ABOUT, visible=False)
    _rebuild(blocks)
    text = json.dumps(blocks)

    assert "Sign up" not in text
    assert "acme" not in text
    assert "Draft" not in text
    assert "WhatsApp flow link" in text
    # The button carries no space either: every client in the channel sees its value.
    assert button_target(_button(blocks)["value"]) == (FLOW, None, True)


def test_a_shared_card_is_for_the_channel_and_holds_no_link() -> None:
    message = cards.shared_message(FLOW, "acme", "U123", ABOUT, visible=True)
    _rebuild(message["blocks"])

    assert message["response_type"] == "in_channel"
    assert "Shared by <@U123>" in json.dumps(message["blocks"])
    assert "`acme`" in json.dumps(message["blocks"])
    assert "https://" not in json.dumps(message)
    assert button_target(_button(message["blocks"])["value"]) == (FLOW, "acme", False)


def test_a_card_shared_where_the_space_is_not_seen_names_only_the_sharer() -> None:
    message = cards.shared_message(FLOW, "acme", "U123", ABOUT, visible=False)
    _rebuild(message["blocks"])
    text = json.dumps(message["blocks"])

    assert "<@U123> shared a WhatsApp flow" in text
    assert "Sign up" not in text
    assert "Draft" not in text
    # The button still names the space the preview came from: a click looks there.
    assert button_target(_button(message["blocks"])["value"]) == (FLOW, "acme", False)


def test_a_button_value_both_here_and_with_a_space_is_not_ours() -> None:
    assert button_target(json.dumps({"flow": FLOW, "space": "acme", "here": True})) is None


def test_the_pasted_preview_warning_says_why_and_what_to_do() -> None:
    message = cards.pasted_preview_message()
    _rebuild(message["blocks"])
    assert "anyone in the conversation can open" in message["text"]
    assert "Share in channel" in message["text"]
