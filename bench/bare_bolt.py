"""A bare Bolt AsyncApp whose /flowpreview only acks: the framework's ceiling for bench_slack.

Run from the project root::

    python -m bench.bare_bolt --port N

with SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and SLACK_API_URL in the environment.

It is served the way `python -m bot serve` serves the bot, so that the difference between the
two is flowpreview's own work: aiohttp's run_app without an access log, `POST /slack/events`
through Bolt's aiohttp adapter with the same signing secret and token check (auth.test on the
first request), `GET /healthz`, and logging at WARNING. SIGTERM stops it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench.support import HOST
from bot.slack.constants import COMMAND, EVENTS_PATH, HEALTH_PATH


def build_server(signing_secret: str, bot_token: str, api_url: str) -> web.Application:
    """The aiohttp application: Bolt on EVENTS_PATH, whose only listener acks COMMAND."""
    bolt = AsyncApp(
        signing_secret=signing_secret,
        client=AsyncWebClient(token=bot_token, base_url=api_url),
        logger=logging.getLogger("bench.bare_bolt"),
        name="bare-bolt",
        # Configured as the bot configures Bolt, so the ceiling is the framework's best.
        process_before_response=True,
    )

    async def flowpreview(ack: AsyncAck) -> None:
        await ack()

    bolt.command(COMMAND)(flowpreview)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    server = web.Application()
    server.router.add_post(EVENTS_PATH, events)
    server.router.add_get(HEALTH_PATH, healthz)
    return server


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN, SLACK_API_URL."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bare_bolt",
        description="A Bolt AsyncApp whose /flowpreview only acks, served like the bot.",
    )
    parser.add_argument("--host", default=HOST, help=f"address to listen on (default {HOST})")
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args(argv)
    missing = [
        name
        for name in ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_API_URL")
        if not os.environ.get(name)
    ]
    if missing:
        parser.error(f"set {', '.join(missing)} in the environment")
    logging.basicConfig(level=logging.WARNING)
    server = build_server(
        os.environ["SLACK_SIGNING_SECRET"],
        os.environ["SLACK_BOT_TOKEN"],
        os.environ["SLACK_API_URL"],
    )
    web.run_app(server, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
