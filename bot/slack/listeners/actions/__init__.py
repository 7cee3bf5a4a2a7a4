"""The buttons: "Open preview" (a link), "Share in channel", and "Preview" beside a match."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import CamsError
from bot.cams.models import FlowPreview
from bot.preview.errors import Busy
from bot.preview.spaces import SPACE_ID
from bot.slack.admission.gate import admitted
from bot.slack.answers.delivery import Delivery
from bot.slack.answers.parsing import FLOW_ID
from bot.slack.blocks import messages
from bot.slack.constants import OPEN_ACTION_ID, PICK_ACTION_ID, SHARE_ACTION_ID

log = logging.getLogger(__name__)


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Acknowledge link clicks, re-post a preview for the channel on Share, and preview the
    match picked from a search's list."""

    async def open_preview(ack: AsyncAck) -> None:
        # Slack still sends URL-button clicks; unacknowledged, they show a warning icon.
        await ack()

    async def share_preview(
        ack: AsyncAck,
        action: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        user = body.get("user")
        user_id = user.get("id") if isinstance(user, dict) else None
        if not isinstance(user_id, str):
            return
        click = await _admitted_click(delivery, action, body, client, context)
        if click is not None:
            flow_id, space, response_url = click
            work = _share(delivery, response_url, flow_id, space, user_id)
            delivery.inflight.spawn(work, response_url)

    async def pick_match(
        ack: AsyncAck,
        action: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        click = await _admitted_click(delivery, action, body, client, context)
        if click is not None:
            flow_id, space, response_url = click
            delivery.answer_later(response_url, [flow_id], space)

    app.action(OPEN_ACTION_ID)(open_preview)
    app.action(SHARE_ACTION_ID)(share_preview)
    app.action(PICK_ACTION_ID)(pick_match)


async def _admitted_click(
    delivery: Delivery,
    action: dict[str, Any],
    body: dict[str, Any],
    client: AsyncWebClient,
    context: AsyncBoltContext,
) -> tuple[str, str | None, str] | None:
    """The flow, space and response_url of a Share or Preview click the access rules admit;
    None for a click that is not ours, or one refused (the person is then told so)."""
    target = _share_target(action.get("value"))
    response_url = body.get("response_url")
    if target is None or not isinstance(response_url, str):
        return None
    flow_id, space = target
    gate = delivery.gate
    # A button without a space was made for the deployment's default, which it is served
    # from: that is the space to check, not the channel's (which may have changed since).
    checked = space if space is not None or gate is None else gate.effective_space(None)
    verdict = await admitted(gate, client, context, checked, (flow_id,))
    if verdict.allowed:
        return flow_id, space, response_url
    message = {**messages.refused_message(unverified=verdict.unverified), "replace_original": False}
    delivery.inflight.spawn(delivery.replies.post(response_url, message), response_url)
    return None


async def _share(
    delivery: Delivery, response_url: str, flow_id: str, space: str | None, user_id: str
) -> None:
    shared: FlowPreview | None = None
    try:
        shared = await delivery.service.get(flow_id, space)
    except (CamsError, Busy) as failure:
        message = messages.preview_message([(flow_id, failure)], space, delivery.wall_clock())
        delivery.auditor.outcomes([(flow_id, failure)], space, shared=True)
    except Exception:
        log.exception("sharing the preview of flow %r failed", flow_id)
        message = messages.internal_error_message()
    else:
        known = delivery.known([flow_id], space).get(flow_id)
        message = messages.shared_message(shared, user_id, delivery.wall_clock(), known)
    posted = await delivery.replies.post(response_url, {**message, "replace_original": False})
    if posted and shared is not None:
        delivery.auditor.outcomes([(flow_id, shared)], space, shared=True)


def _share_target(value: object) -> tuple[str, str | None] | None:
    """The flow and space a Share button names, or None when the value is not ours."""
    try:
        data = json.loads(value) if isinstance(value, str) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    flow_id, space = data.get("flow"), data.get("space")
    if not isinstance(flow_id, str) or not FLOW_ID.fullmatch(flow_id):
        return None
    if space is not None and (not isinstance(space, str) or not SPACE_ID.fullmatch(space)):
        return None
    return flow_id, space
