"""Finding flows by name: `/flowpreview <words>` and the names in a shortcut's message.

Search runs on the space's catalog, in memory. While a person waits it calls CAMS only to
load a catalog nobody has loaded yet (ListFlow) and for the statuses of a list of matches
(GetFlow, until the ack budget runs out), and never on the preview budget: ListFlow and
GetFlow have budgets of their own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck

from bot.cams.models import FlowDetails, FlowStatus, FlowSummary
from bot.preview.catalog import CatalogStatus, Snapshot
from bot.preview.service import PreviewService
from bot.slack.answers.delivery import Delivery, settle
from bot.slack.blocks import messages
from bot.slack.parsing import MAX_FLOWS, extract_flow_ids, message_texts

log = logging.getLogger(__name__)

# How long a search that answered "loading" waits for the catalog before it gives up.
SEARCH_WAIT_S = 60.0
# How long a follow-up waits for the statuses of a list of matches.
STATUS_WAIT_S = 2.0


class Finder:
    """Answers searches by name on `service`'s catalog, and finds the flows a message names;
    the previews go through `delivery`."""

    def __init__(
        self, delivery: Delivery, service: PreviewService, *, search_wait: float = SEARCH_WAIT_S
    ) -> None:
        self.delivery = delivery
        self.service = service
        self.search_wait = search_wait
        self._inflight = delivery.inflight
        self._replies = delivery.replies

    async def search_in_ack(
        self, ack: AsyncAck, response_url: str, words: str, space: str | None
    ) -> None:
        """Ack with the search's answer when the catalog serves in time, else ack and follow up."""
        service = self.service
        deadline = self.delivery.deadline()
        space_id = service.client.space_for(space)
        if space_id is None:
            await ack(**messages.no_space_message())
            return
        catalog = service.catalog
        snapshot = catalog.peek(space_id)
        if snapshot is None and catalog.state(space_id).status is CatalogStatus.LOADING:
            loop = asyncio.get_running_loop()
            snapshot = await catalog.wait(space_id, max(0.0, deadline - loop.time()))
        if snapshot is None:
            status = catalog.state(space_id).status
            if status is not CatalogStatus.LOADING:
                await ack(**_unavailable(space_id, status))
                return
            await ack(**messages.searching_message(words, space_id))
            self._inflight.spawn(
                self._search_later(response_url, words, space, space_id), response_url
            )
            return
        result = snapshot.index.search(words, MAX_FLOWS)
        if result.clear is not None:
            await self.delivery.answer_in_ack(
                ack, response_url, [result.clear.flow_id], space, deadline
            )
            return
        flows = [match.flow for match in result.matches]
        await ack(**await self._matches(words, space_id, snapshot, flows, deadline=deadline))

    def answer_message(
        self, response_url: str, message: dict[str, Any], space: str | None = None
    ) -> None:
        """Preview the flows a message names, by ID, link or name in `space` (default: the
        configured one); the caller acked."""
        self._inflight.spawn(self._message_later(response_url, message, space), response_url)

    async def _search_later(
        self, response_url: str, words: str, space: str | None, space_id: str
    ) -> None:
        catalog = self.service.catalog
        snapshot = await catalog.wait(space_id, self.search_wait)
        if snapshot is None:
            message = _unavailable(space_id, catalog.state(space_id).status)
            await self._replies.post(response_url, message)
            return
        result = snapshot.index.search(words, MAX_FLOWS)
        if result.clear is not None:
            self.delivery.answer_later(response_url, [result.clear.flow_id], space)
            return
        flows = [match.flow for match in result.matches]
        deadline = asyncio.get_running_loop().time() + STATUS_WAIT_S
        message = await self._matches(words, space_id, snapshot, flows, deadline=deadline)
        await self._replies.post(response_url, message)

    async def _matches(
        self,
        words: str,
        space_id: str,
        snapshot: Snapshot,
        flows: Sequence[FlowSummary],
        *,
        deadline: float,
    ) -> messages.Message:
        """The list of matches with the statuses known by `deadline`, or the no-match answer."""
        if not flows:
            return messages.no_match_message(
                words, space_id, len(snapshot.flows), truncated=snapshot.truncated
            )
        statuses = await self._statuses([flow.flow_id for flow in flows], space_id, deadline)
        return messages.matches_message(words, space_id, flows, statuses)

    async def _statuses(
        self, flow_ids: Sequence[str], space: str | None, deadline: float
    ) -> dict[str, FlowStatus]:
        """Each flow's status as GetFlow tells it by `deadline`; the calls left go on to fill
        the cache."""
        details = self.service.details
        lookups = self.delivery.look_up(flow_ids, space)
        await settle(lookups, deadline - asyncio.get_running_loop().time())
        statuses: dict[str, FlowStatus] = {}
        for flow_id in flow_ids:
            about = details.peek(flow_id, space)
            if isinstance(about, FlowDetails) and about.status is not None:
                statuses[flow_id] = about.status
        return statuses

    async def _message_later(
        self, response_url: str, message: dict[str, Any], space: str | None
    ) -> None:
        flow_ids = extract_flow_ids(message)
        if len(flow_ids) < MAX_FLOWS:
            for flow in await self._named_in(message, space):
                if flow.flow_id not in flow_ids:
                    flow_ids.append(flow.flow_id)
        if not flow_ids:
            await self._replies.post(response_url, messages.no_flows_message())
            return
        self.delivery.answer_later(response_url, flow_ids[:MAX_FLOWS], space)

    async def _named_in(
        self, message: dict[str, Any], space: str | None
    ) -> tuple[FlowSummary, ...]:
        """The flows of `space` (default: the configured one) whose full names the message
        contains."""
        service = self.service
        space_id = service.client.space_for(space)
        if space_id is None:
            return ()
        snapshot = await service.catalog.wait(space_id, self.delivery.ack_budget)
        if snapshot is None:
            return ()
        return snapshot.index.find_in_text("\n".join(message_texts(message)), MAX_FLOWS)


def _unavailable(space: str, status: CatalogStatus) -> messages.Message:
    return messages.search_unavailable_message(
        space,
        denied=status is CatalogStatus.DENIED,
        loading=status is CatalogStatus.LOADING,
    )
