"""Raw connections to the bot, for tests of hostile input."""

from __future__ import annotations

import asyncio

from bot.standin.harness.slack_bot import Bot

FLOW = "1234567890123456"
RESPONSE_URL = "https://hooks.slack.com/commands/T1/2/token"


async def raw_connection(bot: Bot) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A bare TCP connection to the bot, to write whatever a client might."""
    host, port = bot.url.removeprefix("http://").split(":")
    return await asyncio.open_connection(host, int(port))


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sent before closing the connection; fails if it stays open."""
    return await asyncio.wait_for(reader.read(), timeout=within)
