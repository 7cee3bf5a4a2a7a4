"""The "Get flow preview" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack import render
from bot.slack.constants import SHORTCUT_CALLBACK_ID
from bot.slack.delivery import Delivery
from bot.slack.flow_ids import extract_flow_ids


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Preview the flows a message mentions, privately, through the payload's response_url."""

    async def get_flow_preview(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        response_url = str(shortcut.get("response_url", ""))
        message = shortcut.get("message")
        flow_ids = extract_flow_ids(message if isinstance(message, dict) else {})
        if flow_ids:
            delivery.answer_later(response_url, flow_ids, None)
        else:
            delivery.send_later(response_url, render.no_flows_message())

    app.shortcut(SHORTCUT_CALLBACK_ID)(get_flow_preview)
