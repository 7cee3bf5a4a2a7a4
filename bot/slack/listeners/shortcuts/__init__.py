"""The "Get flow preview" message shortcut, and the picker's global shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.slack.constants import SHORTCUT_CALLBACK_ID
from bot.slack.delivery import Delivery
from bot.slack.finding import Finder
from bot.slack.listeners.shortcuts import picker


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Preview the flows a message mentions, privately, through the payload's response_url."""
    finder = Finder(delivery)

    async def get_flow_preview(ack: AsyncAck, shortcut: dict[str, Any]) -> None:
        await ack()
        response_url = str(shortcut.get("response_url", ""))
        message = shortcut.get("message")
        finder.answer_message(response_url, message if isinstance(message, dict) else {})

    app.shortcut(SHORTCUT_CALLBACK_ID)(get_flow_preview)
    picker.register(app, delivery)
