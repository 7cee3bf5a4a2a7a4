"""Which flow a Share, Preview or Get my preview button names, and whether the person clicking
may see it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import FLOW_ID, SPACE_ID
from bot.slack.admission.gate import admitted
from bot.slack.blocks import messages
from bot.slack.blocks.cards import HERE
from bot.slack.deps import Deps


@dataclass(frozen=True, slots=True)
class Click:
    """An admitted click: the flow, the space the button was made for, where to answer."""

    flow_id: str
    space: str | None
    response_url: str


async def admitted_click(
    deps: Deps,
    action: dict[str, Any],
    body: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> Click | None:
    """A Share, Preview or Get my preview click the access rules admit; None for a click that
    is not ours, or one refused (the person is then told so)."""
    target = button_target(action.get("value"))
    response_url = body.get("response_url")
    if target is None or not isinstance(response_url, str):
        return None
    flow_id, space, here = target
    gate = deps.gate
    # A button without a space was made for the deployment's default, which it is served
    # from: that is the space to check, not the channel's (which may have changed since).
    # A card's button marked HERE means the clicking channel's space, found as a command's.
    checked = space if space is not None or gate is None or here else gate.effective_space(None)
    verdict = await admitted(gate, client, context, checked, (flow_id,))
    if verdict.allowed:
        return Click(flow_id, verdict.space if here else space, response_url)
    message = {**messages.refused_message(unverified=verdict.unverified), "replace_original": False}
    deps.inflight.spawn(deps.replies.post(response_url, message), response_url)
    return None


def button_target(value: object) -> tuple[str, str | None, bool] | None:
    """The flow and space a button names, and whether it means the clicking channel's space
    (cards.HERE); None when the value is not ours."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    flow_id, space = data.get("flow"), data.get("space")
    if not isinstance(flow_id, str) or not FLOW_ID.fullmatch(flow_id):
        return None
    if space is not None and (not isinstance(space, str) or not SPACE_ID.fullmatch(space)):
        return None
    here = data.get(HERE) is True
    if here and space is not None:
        return None
    return flow_id, space, here
