"""Every listener of the app, registered by kind, as in Slack's Bolt starter template: each
kind's `register(app, deps)` attaches its handlers, one handler per module."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.deps import Deps
from bot.slack.listeners import actions, commands, events, functions, options, shortcuts, views


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach the command, shortcut, action, options, view, event and step listeners to `app`."""
    commands.register(app, deps)
    shortcuts.register(app, deps)
    actions.register(app, deps)
    options.register(app, deps)
    views.register(app, deps)
    events.register(app, deps)
    functions.register(app, deps)
