"""The picker's flow list, an `external_select` whose options the app serves."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.constants import PICKER_FLOW_ACTION_ID
from bot.slack.deps import Deps
from bot.slack.listeners.options import flow_options


def register(app: AsyncApp, deps: Deps) -> None:
    """Answer the picker's flow select."""
    app.options(PICKER_FLOW_ACTION_ID)(flow_options.listener(deps))
