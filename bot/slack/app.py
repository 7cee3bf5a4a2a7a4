"""The Bolt AsyncApp: a Web API client and the listeners (the server verifies requests)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.logs import BOLT_LOGGER
from bot.slack import listeners
from bot.slack.delivery import Delivery
from bot.slack.oauth import install_flow
from bot.slack.settings import SlackSettings

log = logging.getLogger(__name__)


def build_app(
    settings: SlackSettings, delivery: Delivery, *, engine: AsyncEngine | None = None
) -> AsyncApp:
    """An AsyncApp whose listeners answer through `delivery`.

    With one workspace it uses the bot token; with several (`settings.oauth`) each request is
    authorised with its workspace's installation, kept on `engine` (the store's), which is then
    required, and uninstalling or revoking the app deletes what it kept.
    """
    bolt_logger = logging.getLogger(BOLT_LOGGER)
    common: dict[str, Any] = {
        # The server verifies every HTTP request before parsing it, and Bolt would verify it
        # again after parsing it (and log a forged body whole); Socket Mode needs no signature.
        "request_verification_enabled": False,
        "logger": bolt_logger,
        "name": "flowpreview",
        # Answer as soon as a listener returns instead of polling for its ack every 10 ms.
        # Every listener returns right after acking: the command within its 2 s budget,
        # and whatever follows runs in the delivery's own tasks.
        "process_before_response": True,
    }
    if settings.oauth is None:
        assert settings.bot_token is not None  # SlackSettings holds one or the other
        app = AsyncApp(token=settings.bot_token.reveal(), **common)
    else:
        if engine is None:
            raise ValueError("installs in several workspaces are kept in the database: give engine")
        flow = install_flow(settings.oauth, engine, api_url=settings.api_url, logger=bolt_logger)
        app = AsyncApp(oauth_flow=flow, **common)
        app.enable_token_revocation_listeners()
    if settings.api_url:
        # Set on Bolt's own client (which the OAuth flow shares): handing Bolt a client of
        # ours makes it warn at every start.
        app.client.base_url = settings.api_url

    async def log_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed on a %s request", body.get("type", "?"), exc_info=error)

    app.error(log_error)
    listeners.register(app, delivery)
    return app
