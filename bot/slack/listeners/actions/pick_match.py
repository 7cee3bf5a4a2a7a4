""" "Preview" beside a match in a search's list, and "Get my preview" on a card the whole
channel sees (an unfurl, a shared preview): that flow's preview, privately."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.deps import Deps
from bot.slack.listeners.actions.clicks import admitted_click


def listener(deps: Deps, *, beside: bool = False) -> Callable[..., Awaitable[None]]:
    """The listener for a match's Preview button, or with `beside` a card's Get my preview,
    whose answer goes beside the card rather than in its place."""

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
            deps.delivery.answer_later(
                click.response_url, [click.flow_id], click.space, beside=beside
            )

    return pick_match
