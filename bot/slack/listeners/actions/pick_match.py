""" "Preview" beside a match in a search's list: that flow's preview, privately."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.deps import Deps
from bot.slack.listeners.actions.clicks import admitted_click


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The listener for a match's Preview button."""

    async def pick_match(
        ack: AsyncAck,
        action: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        click = await admitted_click(deps, action, body, client, context)
        if click is not None:
            deps.delivery.answer_later(click.response_url, [click.flow_id], click.space)

    return pick_match
