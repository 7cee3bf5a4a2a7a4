"""The aiohttp server around the Bolt app: `POST /slack/events`, `GET /healthz`, Socket Mode.

Every Slack request is checked here before Bolt sees it: signature headers first, then a body
read within bounds, then the signature over the raw bytes, then the body's shape. What fails is
refused with a status and one summarised log line, and never reaches a parser or a listener.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.log import server_logger
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import __version__
from bot.access.settings import AccessSettings
from bot.logs import bind
from bot.preview.service import PreviewService
from bot.slack.admission.gate import Gate
from bot.slack.answers.delivery import ACK_BUDGET_S
from bot.slack.app import build_app
from bot.slack.blocks import messages
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.slack.deps import Deps, wire
from bot.slack.edge import request_metrics
from bot.slack.edge.intake import RefusedRequestError, check_shape, decode, read_body
from bot.slack.edge.refusals import MalformedRequests, RefusalLog
from bot.slack.edge.verification import SignatureCheck
from bot.slack.settings import SlackSettings
from bot.slack.watching.runner import Watching, build_watching
from bot.slack.watching.settings import WatchSettings
from bot.store.store import Store

log = logging.getLogger(__name__)

# A request's headers, then its body, must each arrive within this long (10 s in all), or the
# connection is closed: slow clients cannot hold connections open before authenticating.
HEADERS_TIMEOUT_S = 5.0
BODY_TIMEOUT_S = 5.0
# How long a shutdown waits for requests being handled: a listener acks within its budget.
# It runs inside the drain, so the whole shutdown takes max(drain, grace) + the apology:
# within SHUTDOWN_DRAIN_S + 5 s, whatever the drain.
HANDLER_GRACE_S = ACK_BUDGET_S + 0.5
# A form field named payload, as interactions carry; the word elsewhere is someone's text.
PAYLOAD_FIELD = re.compile(r"(?:^|&)payload=")
# How long the last word to people still owed a reply may take at shutdown.
APOLOGY_TIMEOUT_S = 2.0


def runner_options(*, headers_timeout: float = HEADERS_TIMEOUT_S) -> dict[str, Any]:
    """The aiohttp runner settings the bot's server needs: header and shutdown bounds."""
    return {
        # aiohttp closes a connection that has not completed a request's headers by then,
        # from its opening or from the previous answer on a kept-alive connection.
        "keepalive_timeout": headers_timeout,
        # A body nobody reads (an answer before it, as for a 404) is not waited for either:
        # aiohttp would otherwise read it for up to 10 s, from a client not yet known.
        "lingering_time": 0,
        # Requests being handled may always finish their ack: cut short, the person would get
        # neither the ack nor, since nothing owed them a reply yet, a word at shutdown.
        "shutdown_timeout": HANDLER_GRACE_S,
    }


# What a server's listeners work with, for whoever holds the application (tests, the demo).
DEPS = web.AppKey("deps", Deps)
# Its poller and poster of watches, when it has a store.
WATCHING = web.AppKey("watching", Watching)


def create_server(
    settings: SlackSettings,
    service: PreviewService,
    *,
    ack_budget: float = ACK_BUDGET_S,
    body_timeout: float = BODY_TIMEOUT_S,
    store: Store | None = None,
    access: AccessSettings | None = None,
    watch: WatchSettings | None = None,
) -> web.Application:
    """The web application serving the bot; in Socket Mode it serves only the health check.

    With a `store`, it is migrated and opened at start-up and closed at shutdown, and every
    preview given, shared or refused goes on its audit trail. Serve it with `runner_options()`.
    """
    deps = wire(settings, service, ack_budget=ack_budget, store=store, access=access)
    # Only installs into several workspaces need SQLAlchemy (slack_sdk's installation store).
    engine = store.sqlalchemy_engine() if store is not None and settings.oauth else None
    bolt = build_app(settings, deps, engine=engine)
    mode = "socket" if settings.socket_mode else "http"
    server = web.Application()
    server[DEPS] = deps

    async def healthz(request: web.Request) -> web.Response:
        status = await service.health()
        return web.json_response(
            {"status": status, "mode": mode, "version": __version__},
        )

    server.router.add_get(HEALTH_PATH, healthz)
    if settings.multi_workspace:
        # Only a replica that installs into several workspaces loads the OAuth modules.
        from bot.slack.installs.oauth import oauth_routes  # noqa: PLC0415

        # Browser GETs in either mode: installing is a person following links, not Slack.
        server.router.add_routes(oauth_routes(bolt))

    async def fetch_credentials(_: web.Application) -> None:
        # Temporary credentials start coming before the first ask needs them, and a broken
        # provider shows in the logs and metrics at start-up.
        service.client.source.start()

    server.on_startup.append(fetch_credentials)
    refusals = RefusalLog(log)
    _summarise_malformed_requests(server, refusals)
    if settings.socket_mode:
        _connect_socket_mode(server, bolt, settings)
    else:
        # Without a signing secret nothing could be verified, so in Socket Mode there is no
        # HTTP endpoint for Slack requests at all.
        assert settings.signing_secret is not None
        server.router.add_post(
            EVENTS_PATH,
            events_handler(
                bolt, SignatureCheck(settings.signing_secret), refusals, body_timeout=body_timeout
            ),
        )
    _keep_word_at_shutdown(server, settings, deps, refusals)
    if store is not None:
        _open_store(server, store, deps.gate)
        watching = build_watching(
            settings,
            service,
            store.watches,
            watch or WatchSettings(),
            bolt,
            channels=deps.channels,
            trail=store.audit,
        )
        server[WATCHING] = watching
        _watch(server, watching)
    return server


def _watch(server: web.Application, watching: Watching) -> None:
    async def start(_: web.Application) -> None:
        # After the store opened (on_startup runs in order): the schema is up to date.
        watching.start()

    async def stop(_: web.Application) -> None:
        await watching.stop()

    server.on_startup.append(start)
    server.on_shutdown.append(stop)


def _summarise_malformed_requests(server: web.Application, refusals: RefusalLog) -> None:
    # aiohttp logs what its parser rejects on a logger of its own, before any handler runs.
    malformed = MalformedRequests(refusals)

    async def summarise(_: web.Application) -> None:
        server_logger.addFilter(malformed)

    async def stop_summarising(_: web.Application) -> None:
        server_logger.removeFilter(malformed)

    server.on_startup.append(summarise)
    server.on_cleanup.append(stop_summarising)


def _open_store(server: web.Application, store: Store, gate: Gate | None) -> None:
    async def open_store(_: web.Application) -> None:
        # Before the port serves anyone: a schema that cannot be brought up to date, or rules
        # that cannot be read, stop the start rather than letting anyone past unchecked.
        await store.start()
        if gate is not None:
            await gate.book.load()

    async def close_store(_: web.Application) -> None:
        if gate is not None:
            await gate.book.close()
        await store.close()

    server.on_startup.append(open_store)
    # Registered after the hooks that finish the replies in flight, so it closes after them:
    # their records are written first.
    server.on_cleanup.append(close_store)


def _keep_word_at_shutdown(
    server: web.Application,
    settings: SlackSettings,
    deps: Deps,
    refusals: RefusalLog,
) -> None:
    # aiohttp stops listening, runs on_shutdown, waits for the requests being handled, then
    # runs on_cleanup: only then is every reply owed in flight. The drain is counted from the
    # start of the shutdown, so the whole of it takes at most the drain time plus the apology.
    started: list[float] = []

    async def mark_start(_: web.Application) -> None:
        started.append(time.monotonic())

    async def finish_replies(_: web.Application) -> None:
        elapsed = time.monotonic() - started[0] if started else 0.0
        unanswered = await deps.inflight.drain(settings.shutdown_drain - elapsed)
        if unanswered:
            try:
                async with asyncio.timeout(APOLOGY_TIMEOUT_S):
                    await deps.delivery.apologise(unanswered)
            except TimeoutError:
                log.warning("could not tell everyone owed a reply that the bot restarted")
        refusals.flush()

    async def close(_: web.Application) -> None:
        await deps.replies.close()
        await deps.service.close()

    # First among the shutdown hooks, so that the drain counts from the signal.
    server.on_shutdown.insert(0, mark_start)
    server.on_cleanup.append(finish_replies)
    server.on_cleanup.append(close)


def events_handler(
    bolt: AsyncApp,
    check: SignatureCheck,
    refusals: RefusalLog,
    *,
    body_timeout: float = BODY_TIMEOUT_S,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler that verifies Slack requests and feeds them to `bolt`.

    It never answers with a 5xx: a failure inside the bot is a sentence for the person.
    """

    async def events(request: web.Request) -> web.StreamResponse:
        arrived = time.monotonic()
        try:
            bolt_request = await _verified(request, check, body_timeout)
        except RefusedRequestError as refusal:
            refusals.refused(refusal.reason, request.remote)
            request_metrics.refused(refusal)
            answer = web.json_response({"error": refusal.reason}, status=refusal.status)
            # Whatever the client still sends is not read: it gets no connection to hold.
            answer.force_close()
            return answer
        kind = request_metrics.request_kind(bolt_request.body)
        # For the rest of this request's task, which runs its listeners: every log line of
        # theirs names the team, channel and user.
        context = bolt_request.context
        bind(team=context.team_id, channel=context.channel_id, user=context.user_id)
        try:
            response = await bolt.async_dispatch(bolt_request)
        except Exception:
            log.exception("dispatching a Slack request failed")
            request_metrics.answered(kind, None, arrived)
            return web.json_response(messages.internal_error_message())
        request_metrics.answered(kind, response.status, arrived)
        if response.status >= 500:
            # Slack shows a 5xx as a bare failure; a sentence is more use to the person.
            return web.json_response(messages.internal_error_message())
        return await to_aiohttp_response(response)

    return events


async def _verified(
    request: web.Request, check: SignatureCheck, body_timeout: float
) -> AsyncBoltRequest:
    """The request for Bolt, once it is signed, bounded and shaped like Slack's; else
    RefusedRequestError."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    problem = check.header_problem(timestamp, signature)
    if problem is not None:
        raise RefusedRequestError(401, problem)
    assert timestamp is not None
    assert signature is not None
    body = await read_body(request, within=body_timeout)
    if not check.matches(timestamp, signature, body):
        raise RefusedRequestError(401, "wrong signature")
    text = decode(body)
    bolt_request = _bolt_request(request, text)
    if not bolt_request.body and "payload" in text and not PAYLOAD_FIELD.search(text):
        # Bolt takes any form with "payload" in it for an interaction, and finds nothing in
        # a slash command whose text holds the word. Spelling its "p" as %70 leaves the form
        # as it decodes, and lets Bolt read it as the command it is.
        bolt_request = _bolt_request(request, text.replace("payload", "%70ayload"))
    check_shape(bolt_request.body)
    return bolt_request


def _bolt_request(request: web.Request, text: str) -> AsyncBoltRequest:
    try:
        # Bolt parses the body and reads its context here; whatever it cannot read, Slack
        # did not send.
        return AsyncBoltRequest(
            body=text,
            query=request.query_string,
            headers=request.headers,  # type: ignore[arg-type]  # as Bolt's own adapter does
        )
    except Exception:
        raise RefusedRequestError(400, "not a Slack request: Bolt cannot read it") from None


def _connect_socket_mode(server: web.Application, bolt: AsyncApp, settings: SlackSettings) -> None:
    # Only a replica in Socket Mode loads slack_sdk's WebSocket client.
    from bot.slack.edge.socket_mode import MeteredSocketModeHandler  # noqa: PLC0415

    assert settings.app_token is not None
    app_token = settings.app_token.reveal()
    handlers: list[MeteredSocketModeHandler] = []

    async def connect(_: web.Application) -> None:
        # The handler must be created inside the running loop.
        handler = MeteredSocketModeHandler(bolt, app_token, web_client=bolt.client)
        handlers.append(handler)
        await handler.connect_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt
        log.info("connected to Slack over Socket Mode")

    async def disconnect(_: web.Application) -> None:
        for handler in handlers:
            await handler.close_async()  # type: ignore[no-untyped-call]  # untyped in slack_bolt

    server.on_startup.append(connect)
    # Stop taking requests first; the replies already owed are finished in on_cleanup.
    server.on_shutdown.append(disconnect)
