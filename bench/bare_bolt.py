"""A bare Bolt AsyncApp whose /flowpreview only acks: the framework's ceiling for bench_slack.

`python -m bench.bare_bolt --port N` with SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and
SLACK_API_URL. Served as `serve` serves the bot (run_app without an access log, Bolt's aiohttp
adapter, the same signature and token check, WARNING logs): the difference is flowpreview's own.

For bench_surfaces, `--unfurl-card PATH` answers every `link_shared` with one `chat.unfurl` of
that card (JSON, `{"blocks": [...]}`) for each link, and `--home-view PATH` answers every
`app_home_opened` with one `views.publish` of that view: no work but the call. With
SLACK_CLIENT_ID and DATABASE_URL instead of SLACK_BOT_TOKEN, each request is authorised from
the workspaces' installations in that database, as the bot does with several workspaces.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.constants import COMMAND, EVENTS_PATH, HEALTH_PATH


def build_server(
    signing_secret: str,
    bot_token: str | None,
    api_url: str,
    *,
    installations: AsyncInstallationStore | None = None,
    unfurl_card: dict[str, Any] | None = None,
    home_view: dict[str, Any] | None = None,
) -> web.Application:
    """The aiohttp application: Bolt on EVENTS_PATH, whose only listener acks COMMAND, and
    with `unfurl_card` and `home_view` listeners that send them as they are.

    Authorised with `bot_token`, or per workspace from `installations` when it is given.
    """
    bolt = AsyncApp(
        signing_secret=signing_secret,
        client=AsyncWebClient(token=bot_token, base_url=api_url),
        installation_store=installations,
        logger=logging.getLogger("bench.bare_bolt"),
        name="bare-bolt",
        # Configured as the bot configures Bolt, so the ceiling is the framework's best.
        process_before_response=True,
    )

    async def flowpreview(ack: AsyncAck) -> None:
        await ack()

    bolt.command(COMMAND)(flowpreview)

    if unfurl_card is not None:
        card = unfurl_card

        async def link_shared(event: dict[str, Any], client: AsyncWebClient) -> None:
            unfurls = {link["url"]: card for link in event["links"]}
            await client.chat_unfurl(
                channel=event["channel"], ts=event["message_ts"], unfurls=unfurls
            )

        bolt.event("link_shared")(link_shared)

    if home_view is not None:
        view = home_view

        async def app_home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
            await client.views_publish(user_id=event["user"], view=view)

        bolt.event("app_home_opened")(app_home_opened)

    async def events(request: web.Request) -> web.Response:
        return await to_aiohttp_response(await bolt.async_dispatch(await to_bolt_request(request)))

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    server = web.Application()
    server.router.add_post(EVENTS_PATH, events)
    server.router.add_get(HEALTH_PATH, healthz)
    return server


def _json_file(path: Path | None) -> dict[str, Any] | None:
    return None if path is None else dict(json.loads(path.read_text()))


def main() -> int:
    """Serve on 127.0.0.1 until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.bare_bolt", description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--unfurl-card", type=Path, metavar="PATH", help="answer link_shared")
    parser.add_argument("--home-view", type=Path, metavar="PATH", help="answer app_home_opened")
    args = parser.parse_args()
    env = os.environ
    several = bool(env.get("SLACK_CLIENT_ID"))
    names = ["SLACK_SIGNING_SECRET", "SLACK_API_URL"]
    names += ["SLACK_CLIENT_ID", "DATABASE_URL"] if several else ["SLACK_BOT_TOKEN"]
    if missing := [name for name in names if not env.get(name)]:
        parser.error(f"set {', '.join(missing)} in the environment")
    logging.basicConfig(level=logging.WARNING)
    installations = None
    if several:
        # Imported only here: SQLAlchemy would add some 20 MB to a bare Bolt that has no use
        # for it, and bench_footprint compares its memory with the bot's.
        from slack_sdk.oauth.installation_store.sqlalchemy import (  # noqa: PLC0415
            AsyncSQLAlchemyInstallationStore,
        )
        from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

        engine = create_async_engine(env["DATABASE_URL"])
        installations = AsyncSQLAlchemyInstallationStore(
            client_id=env["SLACK_CLIENT_ID"], engine=engine
        )
    server = build_server(
        env["SLACK_SIGNING_SECRET"],
        None if several else env["SLACK_BOT_TOKEN"],
        env["SLACK_API_URL"],
        installations=installations,
        unfurl_card=_json_file(args.unfurl_card),
        home_view=_json_file(args.home_view),
    )
    web.run_app(server, host="127.0.0.1", port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
