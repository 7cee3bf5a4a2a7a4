"""The buttons: "Open preview" (a link), "Share in channel", "Preview" beside a match, a
card's "Get my preview", and the Home tab's search, Preview, Pin and Unpin."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.constants import (
    GET_MY_PREVIEW_ACTION_ID,
    HOME_PIN_ACTION_ID,
    HOME_PREVIEW_ACTION_ID,
    HOME_SEARCH_ACTION_ID,
    HOME_UNPIN_ACTION_ID,
    OPEN_ACTION_ID,
    PICK_ACTION_ID,
    SHARE_ACTION_ID,
)
from bot.slack.deps import Deps
from bot.slack.listeners.actions import (
    home_pin,
    home_preview,
    home_search,
    open_preview,
    pick_match,
    share_preview,
)


def register(app: AsyncApp, deps: Deps) -> None:
    """Acknowledge link clicks, post a card for the channel on Share, preview the match picked
    from a search's list or a card's flow, and answer the Home tab's controls."""
    app.action(OPEN_ACTION_ID)(open_preview.open_preview)
    app.action(SHARE_ACTION_ID)(share_preview.listener(deps))
    app.action(PICK_ACTION_ID)(pick_match.listener(deps))
    app.action(GET_MY_PREVIEW_ACTION_ID)(pick_match.listener(deps, beside=True))
    app.action(HOME_SEARCH_ACTION_ID)(home_search.listener(deps))
    app.action(HOME_PREVIEW_ACTION_ID)(home_preview.listener(deps))
    app.action(HOME_PIN_ACTION_ID)(home_pin.listener(deps, pin=True))
    app.action(HOME_UNPIN_ACTION_ID)(home_pin.listener(deps, pin=False))
