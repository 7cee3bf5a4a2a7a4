"""The Home tab's search box: Enter publishes the tab with the flows named like the words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.asker import Asker
from bot.slack.deps import Deps
from bot.slack.parsing import MAX_NAME_LENGTH


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The search box's listener."""

    async def home_search(
        ack: AsyncAck, action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        value = action.get("value")
        words = value.strip()[:MAX_NAME_LENGTH] if isinstance(value, str) else ""
        query = words or None
        deps.inflight.spawn(deps.home.publish(client, Asker.of(context), query=query))

    return home_search
