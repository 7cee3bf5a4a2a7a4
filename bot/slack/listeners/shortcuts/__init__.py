"""The "Get flow preview" message shortcut, and the picker's global shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.gate import admitted
from bot.slack.answers.delivery import Delivery
from bot.slack.answers.finding import Finder
from bot.slack.blocks import messages
from bot.slack.constants import SHORTCUT_CALLBACK_ID
from bot.slack.listeners.shortcuts import picker


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Preview the flows a message mentions, privately, through the payload's response_url."""
    finder = Finder(delivery)

    async def get_flow_preview(
        ack: AsyncAck,
        shortcut: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        response_url = str(shortcut.get("response_url", ""))
        verdict = await admitted(delivery.gate, client, context, None)
        if not verdict.allowed:
            delivery.inflight.spawn(
                delivery.replies.post(
                    response_url, messages.refused_message(unverified=verdict.unverified)
                ),
                response_url,
            )
            return
        message = shortcut.get("message")
        finder.answer_message(
            response_url, message if isinstance(message, dict) else {}, verdict.space
        )

    app.shortcut(SHORTCUT_CALLBACK_ID)(get_flow_preview)
    picker.register(app, delivery)
