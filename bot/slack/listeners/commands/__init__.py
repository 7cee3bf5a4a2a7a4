"""The slash command."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.constants import COMMAND
from bot.slack.deps import Deps
from bot.slack.listeners.commands import flowpreview


def register(app: AsyncApp, deps: Deps) -> None:
    """Answer `/flowpreview`."""
    app.command(COMMAND)(flowpreview.listener(deps))
