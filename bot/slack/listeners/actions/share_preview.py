""" "Share in channel" under a preview: a card posted for everyone in the channel, whose
**Get my preview** gives each person their own link; the sharer is checked again first."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import CamsError
from bot.cams.models import FlowPreview
from bot.preview.errors import BusyError
from bot.slack.admission.asker import Asker
from bot.slack.answers.sharing import shared_card
from bot.slack.blocks import messages
from bot.slack.deps import Deps
from bot.slack.listeners.actions.clicks import Click, admitted_click

log = logging.getLogger(__name__)


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The Share button's listener."""

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
        click = await admitted_click(deps, action, body, client, context)
        if click is not None:
            asker = Asker.of(context)
            work = _share(deps, client, asker, click, user_id)
            deps.inflight.spawn(work, click.response_url)

    return share_preview


async def _share(
    deps: Deps, client: AsyncWebClient, asker: Asker, click: Click, user_id: str
) -> None:
    flow_id, space, response_url = click.flow_id, click.space, click.response_url
    shared: FlowPreview | None = None
    try:
        shared = await deps.service.get(flow_id, space)
    except (CamsError, BusyError) as failure:
        message = messages.preview_message([(flow_id, failure)], space, deps.wall_clock())
        deps.auditor.outcomes([(flow_id, failure)], space, shared=True)
    except Exception:
        log.exception("sharing the preview of flow %r failed", flow_id)
        message = messages.internal_error_message()
    else:
        message = await shared_card(
            deps.channels,
            client,
            team_id=asker.team_id,
            channel_id=asker.channel_id,
            flow_id=flow_id,
            space=deps.service.client.space_for(space) or "",
            user_id=user_id,
            about=deps.delivery.known([flow_id], space).get(flow_id),
        )
    posted = await deps.replies.post(response_url, {**message, "replace_original": False})
    if posted and shared is not None:
        deps.auditor.outcomes([(flow_id, shared)], space, shared=True)
