"""Slow clients over loopback: headers and bodies that trickle in are cut off."""

from __future__ import annotations

import asyncio

from bot.slack.constants import EVENTS_PATH
from bot.standin.harness.slack_bot import SIGNING_SECRET, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.signing import signed_headers
from tests.shared.hostile_input import FLOW, RESPONSE_URL, closed_by_server, raw_connection


async def test_slow_headers_and_slow_bodies_are_cut_off() -> None:
    body = payloads.slash_command(FLOW, response_url=RESPONSE_URL)
    headers = signed_headers(SIGNING_SECRET, body)
    request_head = (
        f"POST {EVENTS_PATH} HTTP/1.1\r\nHost: bot\r\nContent-Length: {len(body)}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    ).encode()
    elsewhere = b"POST /nope HTTP/1.1\r\nHost: bot\r\nContent-Length: 1000\r\n\r\nabc"
    async with running_bot(request_timeout=0.5) as bot:
        idle, dribbling_headers, dribbling_body, unread = [
            await raw_connection(bot) for _ in range(4)
        ]
        dribbling_headers[1].write(request_head[:20])
        dribbling_body[1].write(request_head + body[:5])
        unread[1].write(elsewhere)
        # Bounds ten times the 0.5 s allowed, for a busy machine; yet under aiohttp's 10 s of
        # lingering over a body nobody reads, which must not happen.
        assert await closed_by_server(idle[0], 5) == b""
        assert await closed_by_server(dribbling_headers[0], 5) == b""
        answer = await closed_by_server(dribbling_body[0], 5)
        assert answer.startswith(b"HTTP/1.1 408")
        assert (await closed_by_server(unread[0], 5)).startswith(b"HTTP/1.1 404")
        for _, writer in (idle, dribbling_headers, dribbling_body, unread):
            writer.close()
        assert not bot.cams.emulator.recorded


async def test_many_slow_clients_are_all_cut_off() -> None:
    async with running_bot(request_timeout=0.5) as bot:
        connections = [await raw_connection(bot) for _ in range(50)]
        for _, writer in connections:
            writer.write(b"POST /slack/events HTTP/1.1\r\nHost: bot\r\nContent-Length: 100\r\n")
        closed = await asyncio.gather(*(closed_by_server(r, 30) for r, _ in connections))
        for _, writer in connections:
            writer.close()
    assert closed == [b""] * 50
