"""The picker's submit: the chosen flow's preview, shown in the modal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import TYPED_FLOW_ID
from bot.preview.spaces import SpaceChoice
from bot.slack.admission.gate import admitted
from bot.slack.blocks import modals
from bot.slack.constants import PICKER_FLOW_ACTION_ID, PICKER_FLOW_BLOCK_ID, PICKER_SPACE_BLOCK_ID
from bot.slack.deps import Deps
from bot.slack.listeners.views.answering import answer, listed_in, preview_view, view_of


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """Answer the picker's submit with the preview."""

    async def preview_chosen(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        view = view_of(body)
        space = modals.chosen_space(view, deps.service.spaces)
        if space is None:
            await ack(
                response_action="errors",
                errors={PICKER_SPACE_BLOCK_ID: "Pick one of the spaces in the list."},
            )
            return
        value = modals.selected_value(view, PICKER_FLOW_BLOCK_ID, PICKER_FLOW_ACTION_ID)
        flow_id = modals.picked_flow(value)
        asked = (flow_id,) if flow_id is not None and TYPED_FLOW_ID.fullmatch(flow_id) else ()
        verdict = await admitted(deps.gate, client, context, space.id, asked)
        if not verdict.allowed:
            refusal = modals.NOT_CHECKED if verdict.unverified else modals.NO_ACCESS
            await ack(response_action="errors", errors={PICKER_SPACE_BLOCK_ID: refusal})
            return
        problem = modals.flow_refusal(value, space) or _unlisted(deps, flow_id, space)
        if problem is not None:
            await ack(response_action="errors", errors={PICKER_FLOW_BLOCK_ID: problem})
            return
        assert flow_id is not None, "flow_refusal refuses a missing flow"
        listed = listed_in(deps, flow_id, space.id)
        await answer(
            ack,
            deps,
            preview_view(deps, flow_id, space.id, listed, deps.delivery.deadline()),
            waiting=modals.fetching_view(flow_id, listed),
            client=client,
            view=view,
        )

    return preview_chosen


def _unlisted(deps: Deps, flow_id: str | None, space: SpaceChoice) -> str | None:
    """Why `flow_id` is refused in `space`: not an ID by its digits, and not in the catalog."""
    if flow_id is None or TYPED_FLOW_ID.fullmatch(flow_id):
        return None
    snapshot = deps.catalog.peek(space.id)
    if snapshot is None or snapshot.index.get(flow_id) is not None:
        # A cold catalog cannot tell; CAMS will say whether the flow exists.
        return None
    return f"{space.label} lists no such flow. Pick one from the list."
