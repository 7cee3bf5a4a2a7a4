"""The Home tab's search box: Enter publishes the tab with the flows named like the words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.asker import Asker
from bot.slack.constants import COMMAND
from bot.slack.deps import Deps
from bot.slack.parsing import MAX_NAME_LENGTH, may_hold_a_link

NOT_A_NAME = (
    ":information_source: The search box finds flows by name. For a flow link or ID, use "
    f"`{COMMAND} <link or ID>`, which answers you alone."
)


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The search box's listener."""

    async def home_search(
        ack: AsyncAck, action: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        value = action.get("value")
        words = value.strip()[:MAX_NAME_LENGTH] if isinstance(value, str) else ""
        notice: str | None = None
        if may_hold_a_link(words):
            # Never shown back: a pasted preview link would land on the view, and in the
            # view's metadata, which Slack keeps.
            words, notice = "", NOT_A_NAME
        query = words or None
        work = deps.home.publish(client, Asker.of(context), query=query, notice=notice)
        deps.inflight.spawn(work)

    return home_search
