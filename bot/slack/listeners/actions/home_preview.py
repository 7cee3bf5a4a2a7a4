""" "Preview" beside a flow on the Home tab: the link in a modal, for the person alone.

Home tab actions carry no response_url, only a trigger_id that opens one modal within 3 s:
the modal opens at once (or says the person may not), and the preview replaces it when ready.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.gate import admitted
from bot.slack.blocks import modals
from bot.slack.deps import Deps
from bot.slack.edge.web_api import SlackWebError
from bot.slack.listeners.actions.clicks import button_target
from bot.slack.listeners.shortcuts.picker import TRIGGER_LIFE_S
from bot.slack.listeners.views.answering import preview_view, update_view

log = logging.getLogger(__name__)


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The Home tab's Preview button."""

    async def home_preview(
        ack: AsyncAck,
        action: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        target = button_target(action.get("value"))
        trigger_id = body.get("trigger_id")
        if target is None or not isinstance(trigger_id, str):
            return
        flow_id, space, _ = target
        deps.inflight.spawn(
            _preview(deps, client, context, trigger_id=trigger_id, flow_id=flow_id, space=space)
        )

    return home_preview


async def _preview(
    deps: Deps,
    client: AsyncWebClient,
    context: AsyncBoltContext,
    *,
    trigger_id: str,
    flow_id: str,
    space: str | None,
) -> None:
    expires = asyncio.get_running_loop().time() + TRIGGER_LIFE_S
    verdict = await admitted(deps.gate, client, context, space, (flow_id,))
    shown = deps.service.client.space_for(space)
    known = deps.service.known(flow_id, space)
    if verdict.allowed and shown is not None:
        view = modals.fetching_view(flow_id, known)
    elif verdict.allowed:
        view = modals.no_space_view()
    else:
        view = modals.refused_view(unverified=verdict.unverified)
    try:
        async with asyncio.timeout_at(expires):
            opened = await client.views_open(trigger_id=trigger_id, view=view)
    except SlackWebError as error:
        log.warning("could not open the preview from the Home tab: %s", error)
        return
    except TimeoutError:
        log.warning("could not open the preview from the Home tab: no answer within 3 s")
        return
    if not verdict.allowed or shown is None:
        return
    opened_view = opened.get("view")
    view_id = opened_view.get("id") if isinstance(opened_view, dict) else None
    result = await preview_view(deps, flow_id, shown, None, deps.delivery.deadline())
    if isinstance(view_id, str):
        await update_view(client, view_id, result)
