"""The "Get flow preview" message shortcut: previews of the flows a message names, by ID,
link or name, privately, through the payload's response_url."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.gate import admitted
from bot.slack.blocks import messages
from bot.slack.deps import Deps


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The message shortcut's listener."""

    async def get_flow_preview(
        ack: AsyncAck,
        shortcut: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        response_url = str(shortcut.get("response_url", ""))
        verdict = await admitted(deps.gate, client, context, None)
        if not verdict.allowed:
            refused = messages.refused_message(unverified=verdict.unverified)
            deps.inflight.spawn(deps.replies.post(response_url, refused), response_url)
            return
        message = shortcut.get("message")
        deps.finder.answer_message(
            response_url, message if isinstance(message, dict) else {}, verdict.space
        )

    return get_flow_preview
