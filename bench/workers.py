"""Processes the benchmarks start, each configured from the environment as `serve` is.

`replica`: a PreviewService (or, with `--layer client`, its CamsClient alone) that asks for a
range of flows on cue (bench_replicas). `catalog` and `live`: the bot, and a Bolt app answering
the picker with one live ListFlow a request, each timed at the server (bench_catalog).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections import deque
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler
from slack_bolt.async_app import AsyncAck, AsyncApp

from bench.common import Ask, ask_all, jsonable, positive_int
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
from bot.slack.listeners.options.flow_options import MAX_QUERY
from bot.slack.server import create_server, events_handler, runner_options
from bot.slack.settings import SlackSettings

READY = "ready"
CATALOG, LIVE = "catalog", "live"
TIMINGS_PATH = "/_bench/timings"
SEQUENCE_HEADER = "X-Bench-Seq"
# Far more requests than one benchmark run sends; older times are dropped beyond it.
MAX_TIMINGS = 100_000

log = logging.getLogger("bench.workers")


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
            sequence = request.headers.get(SEQUENCE_HEADER, "-1")
            number = int(sequence) if sequence.lstrip("-").isdigit() else -1
            timings.append((number, time.perf_counter() - started))

    async def take(request: web.Request) -> web.Response:
        taken = list(timings)
        timings.clear()
        return web.json_response({"timings_s": taken})

    app.middlewares.append(timed)
    app.router.add_post(TIMINGS_PATH, take)


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
        logger=logging.getLogger("bench.workers.bolt"),
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


def flow_ids(first: int, count: int) -> list[str]:
    """`count` consecutive flow IDs from `first`."""
    return [str(first + index) for index in range(count)]


async def replica(args: argparse.Namespace) -> int:
    """Build the service, warm up, signal ready, wait for the cue, ask, print the tallies."""
    async with PreviewService.from_env(dict(os.environ)) as service:
        ask: Ask = service.get if args.layer == "service" else service.client.get_flow_preview_url
        if args.warmup is not None:
            await ask_all(ask, flow_ids(*args.warmup), one_at_a_time=True)
        print(READY, flush=True)
        # A thread, since asyncio cannot read a pipe on stdin portably; it wakes within
        # microseconds of the cue, which is what keeps the replicas' starts together.
        if not await asyncio.to_thread(sys.stdin.readline):
            return 1
        go_at = time.monotonic()
        asked = flow_ids(*args.flows)
        passes = [
            await ask_all(ask, asked, one_at_a_time=args.one_at_a_time) for _ in range(args.passes)
        ]
    print(json.dumps({"go_at": go_at, "passes": jsonable(passes)}), flush=True)
    return 0


def main() -> int:
    """Run a replica, or serve until SIGINT or SIGTERM; warnings go to stderr."""
    cli = argparse.ArgumentParser(prog="python -m bench.workers", description=__doc__)
    kinds = cli.add_subparsers(dest="kind", required=True)
    worker = kinds.add_parser("replica", help="one replica for bench_replicas")
    worker.add_argument("--name", default="replica", help="how its log lines are labelled")
    worker.add_argument("--flows", type=positive_int, nargs=2, required=True, metavar=("FROM", "N"))
    worker.add_argument("--warmup", type=positive_int, nargs=2, metavar=("FROM", "N"))
    worker.add_argument("--one-at-a-time", action="store_true", help="default: all at once")
    worker.add_argument("--passes", type=positive_int, default=1)
    worker.add_argument("--layer", choices=("service", "client"), default="service")
    for kind in (CATALOG, LIVE):
        kinds.add_parser(kind, help="a server for bench_catalog").add_argument(
            "--port", type=int, required=True
        )
    args = cli.parse_args()
    if args.kind == "replica":
        labelled = f"{args.name}: %(levelname)s %(name)s: %(message)s"
        logging.basicConfig(level=logging.WARNING, format=labelled)
        return asyncio.run(replica(args))
    logging.basicConfig(level=logging.WARNING)
    env = dict(os.environ)
    server = catalog_server(env) if args.kind == CATALOG else live_server(env)
    add_timing(server)
    asyncio.run(serve_until_signalled(server, listen("127.0.0.1", args.port), **runner_options()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
