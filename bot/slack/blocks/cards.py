"""Cards that everyone in a conversation sees: a flow link's unfurl and a shared preview.

A card never holds a preview link. It names the flow, its status and its space only when it
is told the whole conversation may see them, and its **Get my preview** button gives each
person who clicks a link of their own, after an access check.
"""

from __future__ import annotations

import json

from bot.slack.blocks.messages import (
    Block,
    Known,
    Message,
    escape,
    flow_title,
    mrkdwn,
    plain,
    section,
)
from bot.slack.constants import GET_MY_PREVIEW_ACTION_ID

# Said under every card: why the button and not a link.
PRIVATE_LINKS = "Preview links are private: each person who clicks gets their own."
# A button value's marker for "the space of the channel the click comes from": a card that
# may not name its space does not carry it either, since every client in the channel sees
# the value.
HERE = "here"


def card_value(flow_id: str, space: str | None) -> str:
    """What a card's button carries: the flow and its space, or HERE when the space is the
    clicking channel's (None)."""
    data: dict[str, object] = {"flow": flow_id}
    if space is None:
        data[HERE] = True
    else:
        data["space"] = space
    return json.dumps(data, separators=(",", ":"))


def unfurl_blocks(
    flow_id: str, *, space: str | None, about: Known | None, visible: bool
) -> list[Block]:
    """The card for a pasted flow link. `visible`: the channel may see `space`, so the card
    names the flow, its status and its space; otherwise it says only what the link is."""
    if visible:
        text = flow_title(flow_id, about)
        if space is not None:
            text += f"\nSpace `{escape(space)}`"
        value = card_value(flow_id, space)
    else:
        text = "*A WhatsApp flow link.* Get your own preview to see the flow."
        value = card_value(flow_id, None)
    return _card(section(text), value)


def shared_message(
    flow_id: str, space: str, user_id: str, about: Known | None, *, visible: bool
) -> Message:
    """A preview shared by `user_id` in a conversation, with the button that gives everyone
    their own link. `visible`: the conversation may see `space`, so the card names the flow,
    its status and the space; otherwise only that a flow was shared.

    The button carries the space the preview came from either way: the sharer chose to share
    it, and a click elsewhere would look in another space.
    """
    if visible:
        text = (
            f"{flow_title(flow_id, about)}\nShared by <@{escape(user_id)}>. Space `{escape(space)}`"
        )
    else:
        text = f"<@{escape(user_id)}> shared a WhatsApp flow. Get your own preview to see it."
    blocks = _card(section(text), card_value(flow_id, space))
    fallback = f"<@{escape(user_id)}> shared WhatsApp flow {flow_id}: get your own preview."
    return {"response_type": "in_channel", "text": fallback, "blocks": blocks}


def pasted_preview_message() -> Message:
    """To the person who pasted a preview link, alone: it is a bearer link."""
    text = (
        ":warning: The link you just posted is a *preview link*: anyone in the conversation "
        "can open the flow with it until it expires, and it cannot be revoked. Next time, use "
        "*Share in channel* under a preview: everyone then gets their own link instead."
    )
    return {"text": text, "blocks": [section(text)]}


def _card(body: Block, value: str) -> list[Block]:
    button = {
        "type": "button",
        "text": plain("Get my preview"),
        "action_id": GET_MY_PREVIEW_ACTION_ID,
        "value": value,
    }
    return [
        body,
        {"type": "actions", "elements": [button]},
        {"type": "context", "elements": [mrkdwn(PRIVATE_LINKS)]},
    ]
