"""The picker's submissions: a flow chosen (its preview in the modal), then Share.

Slack waits 3 s for a view_submission's answer. What is ready within the delivery's ack
budget comes in the answer itself (`response_action: update`); otherwise the answer is a
"Fetching…" view, and `views.update` replaces it when the work is done.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import CamsError
from bot.cams.models import FlowSummary
from bot.preview.errors import Busy
from bot.preview.service import PreviewService
from bot.preview.spaces import SpaceChoice
from bot.slack.admission.gate import admitted
from bot.slack.answers.delivery import DETAILS_GRACE_S, Delivery, settle
from bot.slack.answers.parsing import TYPED_ID
from bot.slack.blocks import messages, modals
from bot.slack.constants import (
    PICKER_CALLBACK_ID,
    PICKER_FLOW_ACTION_ID,
    PICKER_FLOW_BLOCK_ID,
    PICKER_RESULT_CALLBACK_ID,
    PICKER_SPACE_BLOCK_ID,
)
from bot.slack.edge.inflight import InFlight
from bot.slack.edge.web_api import SlackWebError, WebErrorKind

log = logging.getLogger(__name__)

# views.update of a modal the person may have closed: Slack answers at once or not at all.
UPDATE_TIMEOUT_S = 10.0
USER_ID = re.compile(r"[UW][A-Z0-9]{1,40}")


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Answer the picker's submit with the preview, and the result's Share with a post."""
    background = delivery.inflight

    async def preview_chosen(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        view = _view_of(body)
        service = delivery.service
        space = modals.chosen_space(view, service.spaces)
        if space is None:
            await ack(
                response_action="errors",
                errors={PICKER_SPACE_BLOCK_ID: "Pick one of the spaces in the list."},
            )
            return
        value = modals.selected_value(view, PICKER_FLOW_BLOCK_ID, PICKER_FLOW_ACTION_ID)
        flow_id = modals.picked_flow(value)
        asked = (flow_id,) if flow_id is not None and TYPED_ID.fullmatch(flow_id) else ()
        verdict = await admitted(delivery.gate, client, context, space.id, asked)
        if not verdict.allowed:
            refusal = modals.NOT_CHECKED if verdict.unverified else modals.NO_ACCESS
            await ack(response_action="errors", errors={PICKER_SPACE_BLOCK_ID: refusal})
            return
        problem = modals.flow_refusal(value, space) or _unlisted(service, flow_id, space)
        if problem is not None:
            await ack(response_action="errors", errors={PICKER_FLOW_BLOCK_ID: problem})
            return
        assert flow_id is not None, "flow_refusal refuses a missing flow"
        listed = _listed(service, flow_id, space.id)
        await _answer(
            ack,
            _preview(delivery, flow_id, space.id, listed, delivery.deadline()),
            waiting=modals.fetching_view(flow_id, listed),
            client=client,
            view_id=modals.view_id_of(view),
            budget=delivery.ack_budget,
            background=background,
        )

    async def share(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        view = _view_of(body)
        metadata = modals.read_metadata(view.get("private_metadata"), delivery.service.spaces)
        user = body.get("user")
        user_id = user.get("id") if isinstance(user, dict) else None
        if (
            metadata is None
            or metadata.flow_id is None
            or not isinstance(user_id, str)
            or not USER_ID.fullmatch(user_id)
        ):
            await ack(response_action="update", view=modals.outdated_view())
            return
        verdict = await admitted(
            delivery.gate, client, context, metadata.space, (metadata.flow_id,)
        )
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
        await _answer(
            ack,
            _share(delivery, metadata, target, user_id),
            waiting=modals.sharing_view(target),
            client=client,
            view_id=modals.view_id_of(view),
            budget=delivery.ack_budget,
            background=background,
        )

    app.view(PICKER_CALLBACK_ID)(preview_chosen)
    app.view(PICKER_RESULT_CALLBACK_ID)(share)


async def _answer(
    ack: AsyncAck,
    work: Coroutine[Any, Any, modals.View],
    *,
    waiting: modals.View,
    client: AsyncWebClient,
    view_id: str | None,
    budget: float,
    background: InFlight,
) -> None:
    """Answer with `work`'s view if it is ready within `budget`, else with `waiting` and
    replace that by views.update once `work` is done."""
    task = asyncio.create_task(_safely(work))
    try:
        done, _ = await asyncio.wait({task}, timeout=budget)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        await ack(response_action="update", view=task.result())
        return
    await ack(response_action="update", view=waiting)
    if view_id is None:
        # Slack always names the view; without its ID nothing can replace the waiting text.
        log.warning("a picker submission came without a view ID; its result cannot be shown")
        background.spawn(_finish(task))
        return
    background.spawn(_update_later(client, view_id, task))


async def _update_later(
    client: AsyncWebClient, view_id: str, task: asyncio.Task[modals.View]
) -> None:
    try:
        view = await task
    except asyncio.CancelledError:
        task.cancel()
        raise
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT_S):
            await client.views_update(view_id=view_id, view=view)
    except SlackWebError as error:
        # Slack's refusal is most often not_found: the person closed the modal before the
        # preview came. Anything else means Slack, or the way to it, is in trouble.
        level = logging.INFO if error.kind is WebErrorKind.REFUSED else logging.WARNING
        log.log(level, "could not update the picker: %s", error)
    except TimeoutError:
        log.warning(
            "could not update the picker: views.update: no answer within %.0f s", UPDATE_TIMEOUT_S
        )


async def _finish(task: asyncio.Task[modals.View]) -> None:
    """Let `task` end (a share still posts) although its view cannot be shown."""
    try:
        await task
    except asyncio.CancelledError:
        task.cancel()
        raise


async def _safely(work: Coroutine[Any, Any, modals.View]) -> modals.View:
    try:
        return await work
    except Exception:
        log.exception("answering a picker submission failed")
        return modals.internal_error_view()


async def _preview(
    delivery: Delivery, flow_id: str, space: str, listed: FlowSummary | None, deadline: float
) -> modals.View:
    """The result view: the preview, with the flow's name and status if GetFlow is quick.

    Name and status are awaited as for any preview: at most DETAILS_GRACE_S after it, and
    never past `deadline`, the loop time the submission's answer is due.
    """
    service = delivery.service
    lookups = delivery.look_up([flow_id], space)
    try:
        preview = await service.get(flow_id, space)
    except (CamsError, Busy) as failure:
        await settle(lookups, 0.0)
        delivery.auditor.outcomes([(flow_id, failure)], space)
        return modals.failure_view(flow_id, listed, space, failure)
    loop = asyncio.get_running_loop()
    await settle(lookups, min(DETAILS_GRACE_S, deadline - loop.time()))
    about = service.details.peek(flow_id, space) or listed
    delivery.auditor.outcomes([(flow_id, preview)], space)
    return modals.result_view(preview, space=space, about=about, now=delivery.wall_clock())


async def _share(
    delivery: Delivery, metadata: modals.Metadata, target: modals.ShareTarget, user_id: str
) -> modals.View:
    """Post the preview to the conversation picked; the view saying how that went."""
    flow_id, space, service = metadata.flow_id, metadata.space, delivery.service
    assert flow_id is not None
    about = service.details.peek(flow_id, space) or _listed(service, flow_id, space)
    try:
        preview = await service.get(flow_id, space)
    except (CamsError, Busy) as failure:
        delivery.auditor.outcomes(
            [(flow_id, failure)], space, shared=True, channel=target.channel_id
        )
        return modals.failure_view(flow_id, about, space, failure)
    message = messages.shared_message(preview, user_id, delivery.wall_clock(), about)
    posted = await delivery.replies.post(target.response_url, message)
    if posted:
        delivery.auditor.outcomes(
            [(flow_id, preview)], space, shared=True, channel=target.channel_id
        )
    return modals.shared_view(target, posted=posted)


def _view_of(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    return view if isinstance(view, dict) else {}


def _unlisted(service: PreviewService, flow_id: str | None, space: SpaceChoice) -> str | None:
    """Why `flow_id` is refused in `space`: not an ID by its digits, and not in the catalog."""
    if flow_id is None or TYPED_ID.fullmatch(flow_id):
        return None
    snapshot = service.catalog.peek(space.id)
    if snapshot is None or snapshot.index.get(flow_id) is not None:
        # A cold catalog cannot tell; CAMS will say whether the flow exists.
        return None
    return f"{space.label} lists no such flow. Pick one from the list."


def _listed(service: PreviewService, flow_id: str, space: str) -> FlowSummary | None:
    """The flow as the space's catalog lists it (its name), if the catalog is at hand."""
    snapshot = service.catalog.peek(space)
    return snapshot.index.get(flow_id) if snapshot is not None else None
