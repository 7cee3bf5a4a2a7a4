"""The Bolt AsyncApp: a Web API client and the listeners (the server verifies requests)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.logs import BOLT_LOGGER
from bot.slack import listeners
from bot.slack.blocks import messages
from bot.slack.constants import SLACK_API_URL
from bot.slack.deps import Deps
from bot.slack.edge.replies import ReplyPoster
from bot.slack.edge.web_api import SlackWebClient, as_web_client
from bot.slack.settings import SlackSettings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

# What Bolt answers when it cannot authorise a request: the workspace is not installed, its
# token no longer works, or Slack did not answer auth.test (down, or something not JSON).
AUTHORIZE_FAILED = (
    ":warning: flowpreview could not confirm with Slack that it is installed in this workspace. "
    "Try again in a minute; if this keeps happening, an admin may need to reinstall the app."
)


def build_app(
    settings: SlackSettings, deps: Deps, *, engine: AsyncEngine | None = None
) -> AsyncApp:
    """An AsyncApp whose listeners work with `deps`.

    With one workspace it uses the bot token; with several (`settings.oauth`) each request is
    authorised with its workspace's installation, kept on `engine` (the store's SQLAlchemy
    engine), which is then required, and uninstalling or revoking the app deletes what it kept.
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
        # and whatever follows runs in tasks that shutdown drains.
        "process_before_response": True,
        "before_authorize": _OurClients(deps.replies),
        "user_facing_authorize_error_message": AUTHORIZE_FAILED,
    }
    # Bolt's own client (the OAuth flow's and Socket Mode's), with the bot token if there is one.
    token = settings.bot_token.reveal() if settings.bot_token is not None else None
    client = SlackWebClient(token=token, base_url=settings.api_url or SLACK_API_URL)
    if settings.oauth is None:
        assert token is not None  # SlackSettings holds one or the other
        # Bolt reads SLACK_BOT_TOKEN from the environment itself, finds it beside the client
        # that holds the same token, and would warn at every start that it goes unused.
        unused_token = _Dropping(warning_client_prioritized_and_token_skipped())
        bolt_logger.addFilter(unused_token)
        try:
            app = AsyncApp(client=client, **common)
        finally:
            bolt_logger.removeFilter(unused_token)
    else:
        if engine is None:
            raise ValueError("installs in several workspaces are kept in the database: give engine")
        # Only a replica that installs into several workspaces loads the OAuth modules.
        from bot.slack.installs.oauth import install_flow  # noqa: PLC0415

        flow = install_flow(settings.oauth, engine, api_url=settings.api_url, logger=bolt_logger)
        app = AsyncApp(client=client, oauth_flow=flow, **common)
        app.enable_token_revocation_listeners()

    async def log_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("listener failed on a %s request", body.get("type", "?"), exc_info=error)

    app.error(log_error)
    listeners.register(app, deps)
    return app


class _Dropping(logging.Filter):
    """Drops the log records whose message is `message`."""

    def __init__(self, message: str) -> None:
        super().__init__()
        self._message = message

    def filter(self, record: logging.LogRecord) -> bool:
        """False for the message dropped."""
        return record.getMessage() != self._message


class _OurClients(AsyncMiddleware):
    """Bolt's per-request Web API client and `respond`, swapped for the bot's own before
    authorisation.

    Bolt makes a plain AsyncWebClient for every request: as a SlackWebClient, auth.test and
    every listener's calls fail only with SlackWebError. And when authorisation fails, Bolt
    posts its sentence to the payload's response_url with a `respond` of its own, which would
    post to any host and follow redirects: it goes through the bot's ReplyPoster instead,
    which posts only to Slack's hosts.
    """

    def __init__(self, replies: ReplyPoster) -> None:
        self._replies = replies

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt passes it by this name
    ) -> BoltResponse:
        context = req.context
        context["client"] = as_web_client(context.client)
        response_url = context.response_url
        if response_url is not None:
            replies = self._replies

            async def respond(text: str) -> None:
                await replies.post(response_url, messages.private_message(text))

            context["respond"] = respond
        return await next()
