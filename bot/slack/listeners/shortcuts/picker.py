"""The "Preview a WhatsApp Flow" global shortcut: opens the picker modal.

A trigger_id works once and for 3 s, so the modal is opened right after the ack, with
nothing slow before it; the catalog of the default space starts warming at the same time.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import views
from bot.slack.constants import PICKER_CALLBACK_ID
from bot.slack.delivery import Delivery

log = logging.getLogger(__name__)

# A trigger expires 3 s after the click: a views.open still waiting by then cannot succeed.
TRIGGER_LIFE_S = 3.0


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Open the picker (or, with no space configured, a modal saying what to set)."""

    async def open_picker(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        trigger_id = body.get("trigger_id")
        if not isinstance(trigger_id, str):
            return
        spaces = delivery.service.spaces
        # With process_before_response, Bolt answers Slack when this listener returns:
        # views.open runs beside that answer, in a task shutdown drains.
        delivery.inflight.spawn(_open(client, trigger_id, views.picker_view(spaces)))
        if spaces:
            # The person needs a moment to reach the flow list: start listing its flows now.
            delivery.service.catalog.peek(spaces[0].id)

    app.shortcut(PICKER_CALLBACK_ID)(open_picker)


async def _open(client: AsyncWebClient, trigger_id: str, view: views.View) -> None:
    try:
        async with asyncio.timeout(TRIGGER_LIFE_S):
            await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        log.warning("could not open the picker: %s", error.response.get("error"))
    except (SlackClientError, TimeoutError, OSError) as error:
        log.warning("could not open the picker: %s", type(error).__name__)
