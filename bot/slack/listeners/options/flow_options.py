"""The picker's flow list (`external_select` options), served from the cached catalog only.

Slack waits 3 s for the options and shows at most 100. Nothing here calls CAMS: the answer
comes from the catalog's snapshot of the space, and a cold catalog is waited for at most
OPTIONS_WAIT_S (its refresh runs in the background) before a "loading" option answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import TYPED_FLOW_ID
from bot.preview.catalog import CatalogStatus, FlowCatalog
from bot.preview.spaces import SpaceChoice
from bot.slack.admission.gate import admitted
from bot.slack.blocks import modals
from bot.slack.deps import Deps

# Far inside Slack's 3 s, so that the answer and its trip back fit whatever the catalog does.
OPTIONS_WAIT_S = 1.0
# What is searched of the typed text; Slack's own box holds less than this.
MAX_QUERY = 200


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """Answer the picker's flow select with the flows of the space chosen in the modal."""

    async def flow_options(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
    ) -> None:
        space = _chosen(deps.service.spaces, body)
        if space is not None:
            verdict = await admitted(deps.gate, client, context, space.id)
            if not verdict.allowed:
                await ack(options=[modals.refused_option()])
                return
        await ack(options=await options_for(deps.catalog, deps.service.spaces, body))

    return flow_options


async def options_for(
    catalog: FlowCatalog, spaces: tuple[SpaceChoice, ...], body: dict[str, Any]
) -> list[modals.Option]:
    """At most 100 options for a block_suggestion payload, best match first.

    The space is the one selected in the modal (only a configured one counts), else the one
    its metadata names, else the default. A typed 10-20 digit flow ID is offered as it is.
    """
    space = _chosen(spaces, body)
    if space is None:
        return []
    typed = body.get("value")
    query = typed.strip()[:MAX_QUERY] if isinstance(typed, str) else ""
    snapshot = catalog.peek(space.id)
    if TYPED_FLOW_ID.fullmatch(query):
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


def _chosen(spaces: tuple[SpaceChoice, ...], body: dict[str, Any]) -> SpaceChoice | None:
    """The space chosen in the modal (a configured one only), else the first offered."""
    view = body.get("view")
    space = modals.chosen_space(view if isinstance(view, dict) else {}, spaces)
    if space is None and spaces:
        return spaces[0]
    return space
