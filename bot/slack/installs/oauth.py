"""Multi-workspace installs: Bolt's OAuth flow on the bot's database, and its two web routes.

A workspace installs the app from the install path (a redirect to Slack's consent screen,
carrying a signed, single-use state), and Slack sends the person back to the redirect path
with a code, which becomes the workspace's installation: its bot token, kept by slack_sdk's
installation store in the bot's own database, where every replica finds it. Requests are then
authorised per workspace with that token, rotated once per workspace when it is about to
expire.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from sqlalchemy.ext.asyncio import AsyncEngine
from yarl import URL

from bot.slack.constants import SLACK_API_URL
from bot.slack.edge.web_api import SlackWebClient
from bot.slack.installs.rotation import SerialisedRotation
from bot.slack.installs.states import STATE_EXPIRATION_S, SignedStateStore, state_key
from bot.slack.settings import OAuthInstall
from bot.store.engine import WRITE_LOCK

log = logging.getLogger(__name__)

# Slack's consent screen lives beside its Web API: slack.com, or slack-gov.com for GovSlack.
AUTHORIZE_PATH = "/oauth/v2/authorize"
# An install step makes a few statements and at most two Slack calls (the code exchange and
# auth.test); one that takes longer than this is stuck.
STEP_TIMEOUT_S = 20.0
# A token refresh happens while a request is being authorised, before its ack. Cut short
# after Slack has issued the new tokens, it would lose them, and the workspace with them: so
# it may take longer than the ack's 3 s (once in twelve hours per workspace at most).
ROTATION_TIMEOUT_S = 10

# Why Bolt refuses a redirect, and the error Slack sends when the person cancels.
_KNOWN_FAILURES = frozenset(
    (
        "invalid_browser",
        "invalid_state",
        "missing_code",
        "invalid_code",
        "storage_error",
        "access_denied",
    )
)

_Step = Callable[[AsyncBoltRequest], Awaitable[BoltResponse]]


def install_flow(
    install: OAuthInstall, engine: AsyncEngine, *, api_url: str | None, logger: logging.Logger
) -> AsyncOAuthFlow:
    """Bolt's OAuth flow for `AsyncApp(oauth_flow=...)`, keeping installations on `engine`.

    The flow's Web API client is the app's own, which Bolt hands it when the app is made.
    """
    # On SQLite each of the store's transactions takes the write lock first: it reads, then
    # writes, and a write refused for a stale read could lose tokens Slack has just rotated.
    # (PostgreSQL ignores the option.)
    locking = engine.execution_options(**{WRITE_LOCK: True})
    store = AsyncSQLAlchemyInstallationStore(
        client_id=install.client_id, engine=locking, logger=logger
    )
    settings = AsyncOAuthSettings(
        client_id=install.client_id,
        client_secret=install.client_secret.reveal(),
        scopes=list(install.scopes),
        # Given, so that Bolt does not read SLACK_USER_SCOPES from the process environment.
        user_scopes=[],
        redirect_uri=install.redirect_uri,
        install_path=install.install_path,
        # Straight to Slack: a page of our own would say nothing more than Slack's.
        install_page_rendering_enabled=False,
        redirect_uri_path=install.redirect_path,
        callback_options=AsyncCallbackOptions(
            success=_success(install.token_rotation), failure=_failure
        ),
        authorization_url=authorize_url(api_url),
        installation_store=store,
        # Bolt checks the state (against its cookie, then this store) before it exchanges
        # the code: a redirect without a good state makes no call to Slack.
        state_store=SignedStateStore(
            engine, state_key(install.client_secret.reveal()), expiration_s=STATE_EXPIRATION_S
        ),
        state_expiration_seconds=STATE_EXPIRATION_S,
        logger=logger,
    )
    # Bolt's own authorize would refresh tokens from any process at any time, and through a
    # client of its own on slack.com whatever SLACK_API_URL says.
    settings.authorize = SerialisedRotation(
        engine=engine,
        installation_store=store,
        client_id=install.client_id,
        client_secret=install.client_secret.reveal(),
        client=SlackWebClient(base_url=api_url or SLACK_API_URL, timeout=ROTATION_TIMEOUT_S),
        logger=logger,
    )
    return AsyncOAuthFlow(settings=settings, logger=logger)


def authorize_url(api_url: str | None) -> str:
    """Slack's consent screen on the host that serves the Web API."""
    return str(URL(api_url or SLACK_API_URL).with_path(AUTHORIZE_PATH))


def oauth_routes(bolt: AsyncApp) -> list[web.RouteDef]:
    """`GET` the install path and the redirect path, served by `bolt`'s OAuth flow.

    Add them to the server in either mode: they are a browser's, not Slack's, requests, so they
    carry no Slack signature to check.
    """
    flow = bolt.oauth_flow
    if flow is None:
        raise ValueError("a single-workspace app has no install routes")
    return [
        web.get(flow.install_path, _route(flow.handle_installation), allow_head=False),
        web.get(flow.redirect_uri_path, _route(flow.handle_callback), allow_head=False),
    ]


def _route(step: _Step) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        bolt_request = AsyncBoltRequest(
            body="",
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # as Bolt's own adapter does
        )
        try:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                response = await step(bolt_request)
        except TimeoutError:
            log.warning("an install step took over %.0f s", STEP_TIMEOUT_S)
            return _page(504, "Slack or the database took too long. Start the install again.")
        except Exception:
            log.exception("an install step failed")
            return _page(500, "The install failed on our side. Start it again.")
        return await to_aiohttp_response(response)

    return handle


def _page(status: int, sentence: str) -> web.Response:
    return web.Response(status=status, text=sentence)


def _success(token_rotation: bool) -> Callable[[AsyncSuccessArgs], Awaitable[BoltResponse]]:
    async def installed(args: AsyncSuccessArgs) -> BoltResponse:
        installation = args.installation
        workspace = installation.team_id or installation.enterprise_id
        log.info("installed in workspace %s", workspace)
        rotating = installation.bot_refresh_token is not None
        if rotating != token_rotation:
            # Bolt copes either way; the setting is wrong, and the operator should know.
            log.warning(
                "workspace %s was given %s tokens, but SLACK_TOKEN_ROTATION says %s",
                workspace,
                "rotating" if rotating else "lasting",
                "true" if token_rotation else "false",
            )
        return await args.default.success(args)

    return installed


async def _failure(args: AsyncFailureArgs) -> BoltResponse:
    # The browser's `error` parameter becomes the reason too: only known words are logged.
    reason = args.reason if args.reason in _KNOWN_FAILURES else "an error from Slack"
    log.warning("an install was refused: %s", reason)
    return await args.default.failure(args)
