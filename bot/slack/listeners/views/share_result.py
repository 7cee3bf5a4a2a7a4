"""The picker's result view, submitted: the preview shared into the conversation picked."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import CamsError
from bot.ids import SLACK_USER_ID
from bot.preview.errors import BusyError
from bot.slack.admission.asker import Asker
from bot.slack.admission.gate import admitted
from bot.slack.answers.sharing import shared_card
from bot.slack.blocks import modals
from bot.slack.deps import Deps
from bot.slack.listeners.views.answering import answer, listed_in, view_of


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """Answer the result's Share with a post into the conversation picked."""

    async def share(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        view = view_of(body)
        metadata = modals.read_metadata(view.get("private_metadata"), deps.service.spaces)
        user = body.get("user")
        user_id = user.get("id") if isinstance(user, dict) else None
        if (
            metadata is None
            or metadata.flow_id is None
            or not isinstance(user_id, str)
            or not SLACK_USER_ID.fullmatch(user_id)
        ):
            await ack(response_action="update", view=modals.outdated_view())
            return
        verdict = await admitted(deps.gate, client, context, metadata.space, (metadata.flow_id,))
        if not verdict.allowed:
            await ack(
                response_action="update", view=modals.refused_view(unverified=verdict.unverified)
            )
            return
        target = modals.share_target(body.get("response_urls"))
        if target is None:
            # No conversation picked: Share then simply closes the modal.
            await ack(response_action="clear")
            return
        await answer(
            ack,
            deps,
            _share(deps, client, Asker.of(context)._replace(user_id=user_id), metadata, target),
            waiting=modals.sharing_view(target),
            client=client,
            view=view,
        )

    return share


async def _share(
    deps: Deps,
    client: AsyncWebClient,
    asker: Asker,
    metadata: modals.Metadata,
    target: modals.ShareTarget,
) -> modals.View:
    """Post the preview to the conversation picked; the view saying how that went."""
    flow_id, space = metadata.flow_id, metadata.space
    assert flow_id is not None
    about = deps.details.peek(flow_id, space) or listed_in(deps, flow_id, space)
    try:
        preview = await deps.service.get(flow_id, space)
    except (CamsError, BusyError) as failure:
        deps.auditor.outcomes([(flow_id, failure)], space, shared=True, channel=target.channel_id)
        return modals.failure_view(flow_id, about, space, failure)
    message = await shared_card(
        deps.channels,
        client,
        team_id=asker.team_id,
        channel_id=target.channel_id,
        flow_id=flow_id,
        space=space,
        user_id=asker.user_id,
        about=about,
    )
    posted = await deps.replies.post(target.response_url, message)
    if posted:
        deps.auditor.outcomes([(flow_id, preview)], space, shared=True, channel=target.channel_id)
    return modals.shared_view(target, posted=posted)
