"""The "Get flow preview" message shortcut, and the picker's global shortcut."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.constants import PICKER_CALLBACK_ID, SHORTCUT_CALLBACK_ID
from bot.slack.deps import Deps
from bot.slack.listeners.shortcuts import message_preview, picker


def register(app: AsyncApp, deps: Deps) -> None:
    """Preview what a message names; open the picker."""
    app.shortcut(SHORTCUT_CALLBACK_ID)(message_preview.listener(deps))
    app.shortcut(PICKER_CALLBACK_ID)(picker.listener(deps))
