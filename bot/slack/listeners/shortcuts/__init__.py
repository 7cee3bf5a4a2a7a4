"""The "Get flow preview" message shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.slack import render
from bot.slack.constants import SHORTCUT_CALLBACK_ID
from bot.slack.delivery import Delivery
from bot.slack.flow_ids import extract_flow_ids


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Preview the flows a message mentions, privately, through the payload's response_url."""

    async def get_flow_preview(
        ack: AsyncAck, shortcut: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        message = shortcut.get("message")
        flow_ids = extract_flow_ids(message if isinstance(message, dict) else {})
        if flow_ids:
            delivery.answer_later(respond, flow_ids, None)
        else:
            delivery.inflight.spawn(delivery.post(respond, render.no_flows_message()))

    app.shortcut(SHORTCUT_CALLBACK_ID)(get_flow_preview)
