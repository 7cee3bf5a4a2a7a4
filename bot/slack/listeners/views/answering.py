"""What the modals share: answering a submission within Slack's 3 s with the view that is
ready, or a waiting view that `views.update` replaces later; the preview's own view; and what
a space's catalog lists of a flow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import CamsError
from bot.cams.models import FlowSummary
from bot.preview.errors import BusyError
from bot.slack.answers.delivery import DETAILS_GRACE_S, settle
from bot.slack.blocks import modals
from bot.slack.deps import Deps
from bot.slack.edge.web_api import SlackWebError, WebErrorKind

log = logging.getLogger(__name__)

# views.update of a modal the person may have closed: Slack answers at once or not at all.
UPDATE_TIMEOUT_S = 10.0


async def answer(
    ack: AsyncAck,
    deps: Deps,
    work: Coroutine[Any, Any, modals.View],
    *,
    waiting: modals.View,
    client: AsyncWebClient,
    view: dict[str, Any],
) -> None:
    """Answer the submission of `view` with `work`'s view if it is ready within the ack
    budget, else with `waiting` and replace that by views.update once `work` is done."""
    task = asyncio.create_task(_safely(work))
    try:
        done, _ = await asyncio.wait({task}, timeout=deps.delivery.ack_budget)
    except asyncio.CancelledError:
        task.cancel()
        raise
    if done:
        await ack(response_action="update", view=task.result())
        return
    await ack(response_action="update", view=waiting)
    view_id = modals.view_id_of(view)
    if view_id is None:
        # Slack always names the view; without its ID nothing can replace the waiting text.
        log.warning("a picker submission came without a view ID; its result cannot be shown")
        deps.inflight.spawn(_finish(task))
        return
    deps.inflight.spawn(_update_later(client, view_id, task))


async def _update_later(
    client: AsyncWebClient, view_id: str, task: asyncio.Task[modals.View]
) -> None:
    try:
        view = await task
    except asyncio.CancelledError:
        task.cancel()
        raise
    await update_view(client, view_id, view)


async def update_view(client: AsyncWebClient, view_id: str, view: modals.View) -> None:
    """Replace the open modal `view_id` by `view`; a modal already closed is let be."""
    try:
        async with asyncio.timeout(UPDATE_TIMEOUT_S):
            await client.views_update(view_id=view_id, view=view)
    except SlackWebError as error:
        # Slack's refusal is most often not_found: the person closed the modal before the
        # preview came. Anything else means Slack, or the way to it, is in trouble.
        level = logging.INFO if error.kind is WebErrorKind.REFUSED else logging.WARNING
        log.log(level, "could not update a modal: %s", error)
    except TimeoutError:
        log.warning(
            "could not update a modal: views.update: no answer within %.0f s", UPDATE_TIMEOUT_S
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


async def preview_view(
    deps: Deps, flow_id: str, space: str, listed: FlowSummary | None, deadline: float
) -> modals.View:
    """The result view: the preview, with the flow's name and status if GetFlow is quick.

    Name and status are awaited as for any preview: at most DETAILS_GRACE_S after it, and
    never past `deadline`, the loop time the submission's answer is due.
    """
    lookups = deps.delivery.look_up([flow_id], space)
    try:
        preview = await deps.service.get(flow_id, space)
    except (CamsError, BusyError) as failure:
        await settle(lookups, 0.0)
        deps.auditor.outcomes([(flow_id, failure)], space)
        return modals.failure_view(flow_id, listed, space, failure)
    loop = asyncio.get_running_loop()
    await settle(lookups, min(DETAILS_GRACE_S, deadline - loop.time()))
    about = deps.details.peek(flow_id, space) or listed
    deps.auditor.outcomes([(flow_id, preview)], space)
    return modals.result_view(preview, space=space, about=about, now=deps.wall_clock())


def view_of(body: dict[str, Any]) -> dict[str, Any]:
    """The view a view payload carries, or an empty one."""
    view = body.get("view")
    return view if isinstance(view, dict) else {}


def listed_in(deps: Deps, flow_id: str, space: str) -> FlowSummary | None:
    """The flow as the space's catalog lists it (its name), if the catalog is at hand."""
    snapshot = deps.catalog.peek(space)
    return snapshot.index.get(flow_id) if snapshot is not None else None
