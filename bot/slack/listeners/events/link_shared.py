"""`link_shared`: WhatsApp flow links pasted in a conversation, unfurled as cards."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.asker import Asker
from bot.slack.answers.unfurling import shared_links
from bot.slack.deps import Deps


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The link_shared listener (Bolt acknowledges events by itself)."""

    async def link_shared(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        asker = Asker.of(context)
        shared = shared_links(event, asker.team_id)
        # Slack sends no link_shared for an app's messages; should one come, the bot's own
        # cards are not unfurled again.
        if shared is None or shared.user_id == context.bot_user_id:
            return
        deps.unfurler.handle(shared, client)

    return link_shared
