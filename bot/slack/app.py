"""The Bolt AsyncApp: a Web API client, request verification and the listeners. Nothing else."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import listeners
from bot.slack.delivery import Delivery
from bot.slack.settings import SlackSettings

log = logging.getLogger(__name__)


def build_app(settings: SlackSettings, delivery: Delivery) -> AsyncApp:
    """A single-workspace AsyncApp whose listeners answer through `delivery`."""
    client_options: dict[str, Any] = {"token": settings.bot_token.reveal()}
    if settings.api_url:
        client_options["base_url"] = settings.api_url
    app = AsyncApp(
        client=AsyncWebClient(**client_options),
        # Socket Mode requests carry no signature; HTTP mode always has a secret by now.
        signing_secret=settings.signing_secret.reveal() if settings.signing_secret else "",
        logger=logging.getLogger("bot.slack.bolt"),
        name="flowpreview",
    )

    async def log_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed on a %s request", body.get("type", "?"), exc_info=error)

    app.error(log_error)
    listeners.register(app, delivery)
    return app
