"""Getting previews to the person: in the ack when they are quick, through response_url if not.

A preview shows the flow's name and status when they are known in time: from the caches at
once, or from GetFlow calls made beside the preview's own, awaited at most DETAILS_GRACE_S
after the previews are ready and never past the ack budget. A preview that comes later than
the ack waits for them no longer at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from cachetools import LRUCache
from slack_bolt.async_app import AsyncAck

from bot.cams.models import FlowPreview
from bot.metrics import CACHE
from bot.preview.service import Outcome, PreviewService
from bot.slack.admission.auditing import Auditor
from bot.slack.blocks import messages
from bot.slack.edge.inflight import InFlight
from bot.slack.edge.replies import ReplyPoster

log = logging.getLogger(__name__)

Outcomes = list[tuple[str, Outcome]]
Known = dict[str, messages.Known]

# Looked up once: a cache hit is the hot path, and a label look-up costs more than counting.
_LOCAL_HITS = CACHE.labels("local", "hit")
# Slack gives up on an ack after 3 s; answering by 2 s leaves room for the trip back.
ACK_BUDGET_S = 2.0
# Once the previews are ready, how much longer their names and statuses may hold the answer,
# never past the ack budget.
DETAILS_GRACE_S = 0.5
# Cache-hit answers kept ready to send: a few KiB each, for the flows asked about most.
ANSWERS_KEPT = 256
# What a cached answer depends on: the space, and per flow its outcome, what is known of it and
# how long its link has left, as shown.
_AnswerKey = tuple[str | None, tuple[tuple[str, Any, messages.Known | None, str], ...]]


class Delivery:
    """Fetches previews through the service and delivers the rendered answer."""

    def __init__(
        self,
        service: PreviewService,
        inflight: InFlight,
        replies: ReplyPoster,
        auditor: Auditor,
        *,
        ack_budget: float = ACK_BUDGET_S,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.auditor = auditor
        self.inflight = inflight
        self.replies = replies
        self.ack_budget = ack_budget
        self.wall_clock = wall_clock
        self._answers: LRUCache[_AnswerKey, str] = LRUCache(maxsize=ANSWERS_KEPT)

    def deadline(self) -> float:
        """The loop time by which an ack started now must be sent."""
        return asyncio.get_running_loop().time() + self.ack_budget

    async def answer_in_ack(
        self,
        ack: AsyncAck,
        response_url: str,
        flow_ids: Sequence[str],
        space: str | None,
        deadline: float | None = None,
    ) -> None:
        """Ack with the previews if they are ready by `deadline` (default: the ack budget from
        now), else ack and follow up through response_url."""
        hits = self._hits(flow_ids, space)
        if hits is not None:
            # The common case, answered without a task or a timer.
            # Served from the peeks, without the service's get, which counts its own lookups.
            _LOCAL_HITS.inc(len(hits))
            await ack(self._cached_answer(hits, space))
            self.auditor.outcomes(hits, space)
            return
        deadline = self.deadline() if deadline is None else deadline
        lookups = self.look_up(flow_ids, space)
        fetch = asyncio.create_task(self.service.get_many(flow_ids, space))
        try:
            loop = asyncio.get_running_loop()
            done, _ = await asyncio.wait({fetch}, timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            fetch.cancel()
            await settle(lookups, 0.0)
            raise
        if done:
            if fetch.exception() is not None:
                await settle(lookups, 0.0)
                log.error("fetching previews failed", exc_info=fetch.exception())
                await ack(**messages.internal_error_message())
            else:
                await settle(lookups, min(DETAILS_GRACE_S, deadline - loop.time()))
                await ack(**self._render(fetch.result(), self.known(flow_ids, space), space))
                self.auditor.outcomes(fetch.result(), space)
            return
        await ack(**messages.fetching_message(flow_ids))
        self.inflight.spawn(self._follow_up(fetch, lookups, response_url, space), response_url)

    def answer_later(
        self,
        response_url: str,
        flow_ids: Sequence[str],
        space: str | None,
        *,
        beside: bool = False,
    ) -> None:
        """Fetch in the background and deliver through response_url (the caller has acked).

        `beside`: the answer goes beside the message clicked rather than in its place, as it
        must under a card the whole channel sees.
        """
        lookups = self.look_up(flow_ids, space)
        fetch = asyncio.create_task(self.service.get_many(flow_ids, space))
        work = self._follow_up(fetch, lookups, response_url, space, beside=beside)
        self.inflight.spawn(work, response_url)

    async def apologise(self, response_urls: Sequence[str]) -> None:
        """Tell each person still owed a reply that the bot restarted before it was ready."""
        message = messages.restarted_message()
        # One apology per person, however many of their replies were cut short.
        unique = dict.fromkeys(response_urls)
        await asyncio.gather(*(self.replies.post(url, message) for url in unique))

    def look_up(self, flow_ids: Sequence[str], space: str | None) -> list[asyncio.Task[Any]]:
        """Start a GetFlow for each flow whose name and status are not cached yet."""
        details = self.service.details
        return [
            asyncio.create_task(details.get(flow_id, space))
            for flow_id in flow_ids
            if details.wanted(flow_id, space)
        ]

    def known(self, flow_ids: Sequence[str], space: str | None) -> Known:
        """What the caches know of each flow now: GetFlow's details, or the catalog's entry."""
        known: Known = {}
        for flow_id in flow_ids:
            about = self.service.known(flow_id, space)
            if about is not None:
                known[flow_id] = about
        return known

    async def _follow_up(
        self,
        fetch: asyncio.Task[Outcomes],
        lookups: list[asyncio.Task[Any]],
        response_url: str,
        space: str | None,
        *,
        beside: bool = False,
    ) -> None:
        outcomes: Outcomes | None = None
        try:
            outcomes = await fetch
        except asyncio.CancelledError:
            fetch.cancel()
            raise
        except Exception:
            log.exception("fetching previews failed")
            message = messages.internal_error_message()
        else:
            # The lookups had as long as the previews took: the preview waits no longer.
            flow_ids = [flow_id for flow_id, _ in outcomes]
            message = self._render(outcomes, self.known(flow_ids, space), space)
        finally:
            await settle(lookups, 0.0)
        if beside:
            message = {**message, "replace_original": False}
        if await self.replies.post(response_url, message) and outcomes is not None:
            self.auditor.outcomes(outcomes, space)

    def _render(self, outcomes: Outcomes, known: Known, space: str | None) -> messages.Message:
        return messages.preview_message(outcomes, space, self.wall_clock(), known)

    def _hits(self, flow_ids: Sequence[str], space: str | None) -> Outcomes | None:
        """Every flow's cached outcome, or None if one is missing or its details are wanted."""
        service = self.service
        hits: Outcomes = []
        for flow_id in flow_ids:
            entry = service.peek(flow_id, space)
            if entry is None or service.details.wanted(flow_id, space):
                return None
            hits.append((flow_id, entry))
        return hits

    def _cached_answer(self, hits: Outcomes, space: str | None) -> str:
        """The ack for previews answered from the cache, as the JSON Slack gets.

        The same previews make the same answer until the time they have left reads otherwise,
        so it is rendered and serialised once for everyone who asks meanwhile: on the hot path
        that was most of the bot's own work. Bolt sends a string ack as it is, and as JSON when
        it starts with a brace.
        """
        now = self.wall_clock()
        known = self.known([flow_id for flow_id, _ in hits], space)
        key: _AnswerKey = (
            space,
            tuple(
                (
                    flow_id,
                    outcome,
                    known.get(flow_id),
                    messages.time_left(outcome, now) if isinstance(outcome, FlowPreview) else "",
                )
                for flow_id, outcome in hits
            ),
        )
        answer = self._answers.get(key)
        if answer is None:
            answer = json.dumps(messages.preview_message(hits, space, now, known))
            self._answers[key] = answer
        return answer


async def settle(lookups: Sequence[asyncio.Task[Any]], within: float) -> None:
    """Give `lookups` up to `within` seconds, then stop waiting for the rest.

    Their shared GetFlow calls go on and fill the cache for the next ask; a lookup's failure
    only means the name or status stays unknown.
    """
    if not lookups:
        return
    try:
        if within > 0:
            await asyncio.wait(lookups, timeout=within)
    finally:
        for lookup in lookups:
            lookup.cancel()
        await asyncio.gather(*lookups, return_exceptions=True)
