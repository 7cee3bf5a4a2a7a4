"""Every listener of the app, registered by kind, as in Slack's Bolt starter template."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.delivery import Delivery
from bot.slack.listeners import actions, commands, shortcuts


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Attach the command, shortcut and action listeners to `app`."""
    commands.register(app, delivery)
    shortcuts.register(app, delivery)
    actions.register(app, delivery)
