"""`/flowpreview <flow-id> [<flow-id> ...] [space:<id>]`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack import render
from bot.slack.constants import COMMAND
from bot.slack.delivery import Delivery
from bot.slack.flow_ids import UsageRequest, parse_command


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Answer the slash command: usage at once, previews in the ack or soon after."""

    async def flowpreview(ack: AsyncAck, command: dict[str, Any]) -> None:
        request = parse_command(str(command.get("text", "")))
        if isinstance(request, UsageRequest):
            await ack(**render.usage_message(request.problem, request.token))
            return
        response_url = str(command.get("response_url", ""))
        await delivery.answer_in_ack(ack, response_url, request.flow_ids, request.space)

    app.command(COMMAND)(flowpreview)
