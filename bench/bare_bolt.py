"""A bare Bolt AsyncApp whose /flowpreview only acks: the framework's ceiling for bench_slack.

`python -m bench.bare_bolt --port N` with SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and
SLACK_API_URL. Served as `serve` serves the bot (run_app without an access log, Bolt's aiohttp
adapter, the same signature and token check, WARNING logs): the difference is flowpreview's own.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

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


def main() -> int:
    """Serve on 127.0.0.1 until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.bare_bolt", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    args = parser.parse_args()
    names = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_API_URL")
    if missing := [name for name in names if not os.environ.get(name)]:
        parser.error(f"set {', '.join(missing)} in the environment")
    logging.basicConfig(level=logging.WARNING)
    server = build_server(*(os.environ[name] for name in names))
    web.run_app(server, host="127.0.0.1", port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
