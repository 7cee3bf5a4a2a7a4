"""Every listener of the app, registered by kind, as in Slack's Bolt starter template."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.answers.delivery import Delivery
from bot.slack.listeners import actions, commands, options, shortcuts, views


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Attach the command, shortcut, action, options and view listeners to `app`."""
    commands.register(app, delivery)
    shortcuts.register(app, delivery)
    actions.register(app, delivery)
    options.register(app, delivery)
    views.register(app, delivery)
