"""The buttons: "Open preview" (a link), "Share in channel", and "Preview" beside a match."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.constants import OPEN_ACTION_ID, PICK_ACTION_ID, SHARE_ACTION_ID
from bot.slack.deps import Deps
from bot.slack.listeners.actions import open_preview, pick_match, share_preview


def register(app: AsyncApp, deps: Deps) -> None:
    """Acknowledge link clicks, re-post a preview for the channel on Share, and preview the
    match picked from a search's list."""
    app.action(OPEN_ACTION_ID)(open_preview.open_preview)
    app.action(SHARE_ACTION_ID)(share_preview.listener(deps))
    app.action(PICK_ACTION_ID)(pick_match.listener(deps))
