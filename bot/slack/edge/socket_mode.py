"""Socket Mode's handler, metered: each envelope counted and timed as HTTP requests are.

Apart from bot.slack.edge.request_metrics so that a replica serving HTTP never loads slack_sdk's
WebSocket client.
"""

from __future__ import annotations

import time

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.socket_mode.async_internals import (
    run_async_bolt_app,
    send_async_response,
)
from slack_bolt.request.internals import extract_channel_id, extract_team_id, extract_user_id
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.logs import bind
from bot.slack.edge.request_metrics import answered, request_kind


class MeteredSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, counting and timing each envelope as HTTP requests are."""

    async def handle(  # type: ignore[override]  # as Bolt's own signature is
        self, client: SocketModeClient, req: SocketModeRequest
    ) -> None:
        """Dispatch the envelope to Bolt and send its ack, as Bolt does, then count it."""
        arrived, started = time.monotonic(), time.time()
        kind = request_kind(req.payload)
        # As the HTTP handler does: the listeners' log lines name who asked.
        payload = req.payload
        bind(
            team=extract_team_id(payload),
            channel=extract_channel_id(payload),
            user=extract_user_id(payload),
        )
        try:
            response: BoltResponse = await run_async_bolt_app(self.app, req)
            # Bolt's own debug line times the ack from a wall-clock start.
            await send_async_response(client, req, response, started)
        except Exception:
            answered(kind, None, arrived)
            raise
        answered(kind, response.status, arrived)
