"""Workflow Builder steps: the app's custom functions."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.constants import STEP_CALLBACK_ID
from bot.slack.deps import Deps
from bot.slack.listeners.functions import get_flow_preview


def register(app: AsyncApp, deps: Deps) -> None:
    """Run the "Get a WhatsApp flow preview" step."""
    app.function(STEP_CALLBACK_ID)(get_flow_preview.listener(deps))
