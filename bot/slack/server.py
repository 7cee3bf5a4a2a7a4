"""The aiohttp server around the Bolt app: `POST /slack/events`, `GET /healthz`, Socket Mode."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot import __version__
from bot.preview.service import PreviewService
from bot.slack import render
from bot.slack.app import build_app
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.slack.delivery import ACK_BUDGET_S, Delivery
from bot.slack.inflight import InFlight
from bot.slack.settings import SlackSettings

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 10.0


def create_server(
    settings: SlackSettings,
    service: PreviewService,
    *,
    ack_budget: float = ACK_BUDGET_S,
) -> web.Application:
    """The web application serving the bot; in Socket Mode it serves only the health check."""
    inflight = InFlight()
    bolt = build_app(settings, Delivery(service, inflight, ack_budget=ack_budget))
    mode = "socket" if settings.socket_mode else "http"
    server = web.Application()

    async def healthz(request: web.Request) -> web.Response:
        status = await service.health()
        return web.json_response(
            {"status": status, "mode": mode, "version": __version__},
        )

    server.router.add_get(HEALTH_PATH, healthz)
    if settings.socket_mode:
        _connect_socket_mode(server, bolt, settings)
    else:
        # Without a signing secret nothing could be verified, so in Socket Mode there is no
        # HTTP endpoint for Slack requests at all.
        server.router.add_post(EVENTS_PATH, events_handler(bolt))

    # aiohttp runs on_shutdown, then waits for the requests still being handled, then runs
    # on_cleanup: only then is every reply owed in flight, and only after them may the
    # service close.
    async def finish_replies(_: web.Application) -> None:
        await inflight.drain(SHUTDOWN_GRACE_S)

    async def close_service(_: web.Application) -> None:
        await service.close()

    server.on_cleanup.append(finish_replies)
    server.on_cleanup.append(close_service)
    return server


def events_handler(bolt: AsyncApp) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler that feeds Slack requests to `bolt`, never answering with a 5xx."""

    async def events(request: web.Request) -> web.StreamResponse:
        try:
            bolt_request = await to_bolt_request(request)
        except ValueError as exc:
            # Bolt parses the body before it checks the signature; Slack never sends this.
            log.warning("unreadable request body: %s", type(exc).__name__)
            return web.json_response({"error": "unreadable request"}, status=400)
        try:
            answer = await bolt.async_dispatch(bolt_request)
        except Exception:
            log.exception("dispatching a Slack request failed")
            return web.json_response(render.internal_error_message())
        if answer.status >= 500:
            # Slack shows a 5xx as a bare failure; a sentence is more use to the person.
            return web.json_response(render.internal_error_message())
        return await to_aiohttp_response(answer)

    return events


def _connect_socket_mode(server: web.Application, bolt: AsyncApp, settings: SlackSettings) -> None:
    assert settings.app_token is not None
    app_token = settings.app_token.reveal()
    handlers: list[AsyncSocketModeHandler] = []

    async def connect(_: web.Application) -> None:
        # The handler must be created inside the running loop.
        handler = AsyncSocketModeHandler(bolt, app_token, web_client=bolt.client)
        handlers.append(handler)
        await handler.connect_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt
        log.info("connected to Slack over Socket Mode")

    async def disconnect(_: web.Application) -> None:
        for handler in handlers:
            await handler.close_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt

    server.on_startup.append(connect)
    # Stop taking requests first; the replies already owed are finished in on_cleanup.
    server.on_shutdown.append(disconnect)
