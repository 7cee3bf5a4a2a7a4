"""Events: links pasted in conversations, and the Home tab opened."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.deps import Deps
from bot.slack.listeners.events import app_home_opened, link_shared


def register(app: AsyncApp, deps: Deps) -> None:
    """Unfurl flow links, and publish the Home tab when someone opens it."""
    app.event("link_shared")(link_shared.listener(deps))
    app.event("app_home_opened")(app_home_opened.listener(deps))
