"""The picker's flow list (`external_select` options), served from the cached catalog only.

Slack waits 3 s for the options and shows at most 100. Nothing here calls CAMS: the answer
comes from the catalog's snapshot of the space, and a cold catalog is waited for at most
OPTIONS_WAIT_S (its refresh runs in the background) before a "loading" option answers.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.preview.catalog import CatalogStatus
from bot.preview.service import PreviewService
from bot.preview.spaces import SpaceChoice
from bot.slack.admission.gate import admitted
from bot.slack.answers.delivery import Delivery
from bot.slack.answers.parsing import TYPED_ID
from bot.slack.blocks import modals
from bot.slack.constants import PICKER_FLOW_ACTION_ID

# Far inside Slack's 3 s, so that the answer and its trip back fit whatever the catalog does.
OPTIONS_WAIT_S = 1.0
# What is searched of the typed text; Slack's own box holds less than this.
MAX_QUERY = 200


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Answer the picker's flow select with the flows of the space chosen in the modal."""

    async def flow_options(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        space = _chosen(delivery.service, body)
        if space is not None:
            verdict = await admitted(delivery.gate, client, context, space.id)
            if not verdict.allowed:
                await ack(options=[modals.refused_option()])
                return
        await ack(options=await options_for(delivery.service, body))

    app.options(PICKER_FLOW_ACTION_ID)(flow_options)


async def options_for(service: PreviewService, body: dict[str, Any]) -> list[modals.Option]:
    """At most 100 options for a block_suggestion payload, best match first.

    The space is the one selected in the modal (only a configured one counts), else the one
    its metadata names, else the default. A typed 10-20 digit flow ID is offered as it is.
    """
    space = _chosen(service, body)
    if space is None:
        return []
    typed = body.get("value")
    query = typed.strip()[:MAX_QUERY] if isinstance(typed, str) else ""
    catalog = service.catalog
    snapshot = catalog.peek(space.id)
    if TYPED_ID.fullmatch(query):
        known = snapshot.index.get(query) if snapshot is not None else None
        return modals.flow_options([known], space) if known else [modals.id_option(query, space)]
    if snapshot is None:
        snapshot = await catalog.wait(space.id, OPTIONS_WAIT_S)
    if snapshot is None:
        status = catalog.state(space.id).status
        if status is CatalogStatus.DENIED:
            return [modals.denied_option()]
        if status is CatalogStatus.FAILING:
            return [modals.unavailable_option(space)]
        return [modals.loading_option(space)]
    if query:
        flows = [match.flow for match in snapshot.index.search(query, modals.MAX_OPTIONS).matches]
    else:
        flows = list(snapshot.index.first(modals.MAX_OPTIONS))
    return modals.flow_options(flows, space) or [modals.no_match_option(query, space)]


def _chosen(service: PreviewService, body: dict[str, Any]) -> SpaceChoice | None:
    """The space chosen in the modal (a configured one only), else the first offered."""
    spaces = service.spaces
    view = body.get("view")
    space = modals.chosen_space(view if isinstance(view, dict) else {}, spaces)
    if space is None and spaces:
        return spaces[0]
    return space
