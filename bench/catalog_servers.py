"""The two servers bench_catalog times at the server: the bot, and a live-ListFlow peer.

Run from the project root::

    python -m bench.catalog_servers {catalog|live} --port N

with the environment `python -m bot serve` reads (SLACK_*, ALIBABA_CLOUD_*, CAMS_*).

- catalog: the bot itself, built as `serve` builds it (`create_server`), whose picker options
  come from the cached catalog.
- live: the peer. A Bolt AsyncApp configured as the bot configures Bolt, behind the bot's own
  events handler (the same signature check and body bounds), whose only listener answers the
  picker's options with one live `ListFlow(FlowName=query, Size=100)` per request and builds
  the same options from that page.

Both are served as `serve` serves the bot, with one thing added: an aiohttp middleware timing
every POST to the events path from its arrival to the handler's answer (before the answer is
written). `POST /_bench/timings` hands over the times (seconds) recorded since the last call,
each with the request's X-Bench-Seq header (its place in the benchmark's run; -1 without one).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from slack_bolt.async_app import AsyncAck, AsyncApp

from bench.support import HOST
from bot.cams.client import CamsClient
from bot.cams.credentials import Credentials
from bot.cams.errors import CamsError
from bot.cams.settings import CamsSettings
from bot.preview.service import PreviewService
from bot.preview.spaces import SpaceChoice, spaces_from_env
from bot.serving import listen, serve_until_signalled
from bot.slack.blocks import modals
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH, PICKER_FLOW_ACTION_ID
from bot.slack.edge.refusals import RefusalLog
from bot.slack.edge.verification import SignatureCheck
from bot.slack.listeners.options import MAX_QUERY
from bot.slack.server import create_server, events_handler, runner_options
from bot.slack.settings import SlackSettings

CATALOG, LIVE = "catalog", "live"
TIMINGS_PATH = "/_bench/timings"
SEQUENCE_HEADER = "X-Bench-Seq"
# Far more requests than one benchmark run sends; older times are dropped beyond it.
MAX_TIMINGS = 100_000

log = logging.getLogger("bench.catalog_servers")


def add_timing(app: web.Application) -> None:
    """Time every request to EVENTS_PATH inside `app`; serve the times on TIMINGS_PATH."""
    timings: deque[tuple[int, float]] = deque(maxlen=MAX_TIMINGS)

    @web.middleware
    async def timed(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != EVENTS_PATH:
            return await handler(request)
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            timings.append((sequence(request), time.perf_counter() - started))

    async def take(request: web.Request) -> web.Response:
        taken = list(timings)
        timings.clear()
        return web.json_response({"timings_s": taken})

    app.middlewares.append(timed)
    app.router.add_post(TIMINGS_PATH, take)


def sequence(request: web.Request) -> int:
    """The request's SEQUENCE_HEADER, or -1 when it has none or it is not a number."""
    try:
        return int(request.headers.get(SEQUENCE_HEADER, "-1"))
    except ValueError:
        return -1


def catalog_server(env: dict[str, str]) -> web.Application:
    """The bot as `python -m bot serve` builds it."""
    return create_server(SlackSettings.from_env(env), PreviewService.from_env(env))


async def live_options(
    client: CamsClient, space: SpaceChoice, body: dict[str, Any]
) -> list[modals.Option]:
    """The picker's options from one live ListFlow page: what the catalog saves."""
    typed = body.get("value")
    query = typed.strip()[:MAX_QUERY] if isinstance(typed, str) else ""
    try:
        page = await client.list_flows(space.id, name=query or None, size=modals.MAX_OPTIONS)
    except CamsError:
        return [modals.unavailable_option(space)]
    return modals.flow_options(page.flows, space) or [modals.no_match_option(query, space)]


def live_server(env: dict[str, str]) -> web.Application:
    """The peer: Bolt configured as the bot's, answering the picker from a live ListFlow."""
    settings = SlackSettings.from_env(env)
    spaces = spaces_from_env(env)
    if not spaces or settings.signing_secret is None or settings.bot_token is None:
        raise SystemExit("set CAMS_CUST_SPACE_ID, SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET")
    space = spaces[0]
    # No limiter: the peer runs against the emulator with throttling off.
    client = CamsClient(Credentials.from_env(env), CamsSettings.from_env(env))
    bolt = AsyncApp(
        token=settings.bot_token.reveal(),
        request_verification_enabled=False,
        logger=logging.getLogger("bench.catalog_servers.bolt"),
        name="live-listflow",
        process_before_response=True,
    )
    if settings.api_url:
        bolt.client.base_url = settings.api_url

    async def flow_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack(options=await live_options(client, space, body))

    bolt.options(PICKER_FLOW_ACTION_ID)(flow_options)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def close(_: web.Application) -> None:
        await client.close()

    server = web.Application()
    server.router.add_get(HEALTH_PATH, healthz)
    server.router.add_post(
        EVENTS_PATH, events_handler(bolt, SignatureCheck(settings.signing_secret), RefusalLog(log))
    )
    server.on_cleanup.append(close)
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.catalog_servers",
        description="The bot, or a live-ListFlow peer, timed at the server for bench_catalog.",
    )
    parser.add_argument("answer", choices=(CATALOG, LIVE), help="where the options come from")
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    env = dict(os.environ)
    server = catalog_server(env) if args.answer == CATALOG else live_server(env)
    add_timing(server)
    asyncio.run(serve_until_signalled(server, listen(args.host, args.port), **runner_options()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
