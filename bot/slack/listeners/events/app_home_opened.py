"""`app_home_opened`: the Home tab published for the person who opened it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.asker import Asker
from bot.slack.blocks.home import home_metadata
from bot.slack.deps import Deps


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The app_home_opened listener: the Home tab only, not the Messages tab."""

    async def app_home_opened(
        event: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str):
            return
        asker = Asker.of(context)._replace(user_id=user, channel_id="")
        # The search the view showed when last published stays on it.
        deps.home.opened(client, asker, home_metadata(event.get("view")))

    return app_home_opened
