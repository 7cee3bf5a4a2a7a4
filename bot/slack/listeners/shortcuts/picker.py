"""The "Preview a WhatsApp Flow" global shortcut: opens the picker modal.

A trigger_id works once and for 3 s, so the modal is opened right after the ack, with
nothing slow before it but the access check; the catalog of the first space offered starts
warming at the same time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.preview.spaces import SpaceChoice
from bot.slack.admission.asker import Asker
from bot.slack.admission.directory import DirectoryError
from bot.slack.blocks import modals
from bot.slack.deps import Deps
from bot.slack.edge.web_api import SlackWebError

log = logging.getLogger(__name__)

# A trigger expires 3 s after the click: a views.open still waiting by then cannot succeed.
TRIGGER_LIFE_S = 3.0


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """Open the picker (or, with no space configured, a modal saying what to set)."""

    async def open_picker(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        await ack()
        trigger_id = body.get("trigger_id")
        if not isinstance(trigger_id, str):
            return
        # With process_before_response, Bolt answers Slack when this listener returns:
        # views.open runs beside that answer, in a task shutdown drains.
        deps.inflight.spawn(_open(deps, client, Asker.of(context), trigger_id))

    return open_picker


async def _open(deps: Deps, client: AsyncWebClient, asker: Asker, trigger_id: str) -> None:
    loop = asyncio.get_running_loop()
    expires = loop.time() + TRIGGER_LIFE_S
    offered = await _offered(deps, client, asker)
    spaces = offered or ()
    if spaces:
        # The person needs a moment to reach the flow list: start listing its flows now.
        deps.catalog.peek(spaces[0].id)
    # With spaces configured and none offered, the rules refused them all.
    refused = not spaces and bool(deps.service.spaces)
    if refused:
        deps.auditor.refused(asker, None, "refused: no space offered in the picker", ())
    unverified = offered is None
    view = modals.refused_view(unverified=unverified) if refused else modals.picker_view(spaces)
    try:
        async with asyncio.timeout_at(expires):
            await client.views_open(trigger_id=trigger_id, view=view)
    except SlackWebError as error:
        log.warning("could not open the picker: %s", error)
    except TimeoutError:
        log.warning("could not open the picker: views.open: no answer within the trigger's life")


async def _offered(
    deps: Deps, client: AsyncWebClient, asker: Asker
) -> tuple[SpaceChoice, ...] | None:
    """The configured spaces the access rules let `asker` see; None if Slack cannot say who
    they are. Offering the others would tell them those spaces exist."""
    spaces = deps.service.spaces
    gate = deps.gate
    if gate is None:
        return tuple(spaces)
    try:
        person = await gate.person(client, asker)
    except DirectoryError as error:
        log.warning("the picker offers no space: %s", error)
        return None
    return tuple(space for space in spaces if gate.allowed(person, space.id).allowed)
