""" "Open preview": a URL button, which Slack opens by itself."""

from __future__ import annotations

from slack_bolt.async_app import AsyncAck


async def open_preview(ack: AsyncAck) -> None:
    """Acknowledge the click: Slack still sends URL-button clicks, and shows a warning icon on
    one left unacknowledged."""
    await ack()
