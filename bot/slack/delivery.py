"""Getting previews to the person: in the ack when they are quick, through response_url if not."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from slack_bolt.async_app import AsyncAck

from bot.preview.service import Outcome, PreviewService
from bot.slack import render
from bot.slack.inflight import InFlight
from bot.slack.replies import ReplyPoster

log = logging.getLogger(__name__)

Outcomes = list[tuple[str, Outcome]]

# Slack gives up on an ack after 3 s; answering by 2 s leaves room for the trip back.
ACK_BUDGET_S = 2.0


class Delivery:
    """Fetches previews through the service and delivers the rendered answer."""

    def __init__(
        self,
        service: PreviewService,
        inflight: InFlight,
        replies: ReplyPoster,
        *,
        ack_budget: float = ACK_BUDGET_S,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self.inflight = inflight
        self.replies = replies
        self.ack_budget = ack_budget
        self.wall_clock = wall_clock

    async def answer_in_ack(
        self, ack: AsyncAck, response_url: str, flow_ids: Sequence[str], space: str | None
    ) -> None:
        """Ack with the previews if they are ready within the budget, else ack and follow up."""
        cached = [self.service.peek(flow_id, space) for flow_id in flow_ids]
        if all(entry is not None for entry in cached):
            # The common case, answered without a task or a timer.
            hits: Outcomes = [
                (f, e) for f, e in zip(flow_ids, cached, strict=True) if e is not None
            ]
            await ack(**self._render(hits, space))
            return
        fetch = asyncio.create_task(self.service.get_many(flow_ids, space))
        try:
            done, _ = await asyncio.wait({fetch}, timeout=self.ack_budget)
        except asyncio.CancelledError:
            fetch.cancel()
            raise
        if done:
            if fetch.exception() is not None:
                log.error("fetching previews failed", exc_info=fetch.exception())
                await ack(**render.internal_error_message())
            else:
                await ack(**self._render(fetch.result(), space))
            return
        await ack(**render.fetching_message(flow_ids))
        self.inflight.spawn(self._follow_up(fetch, response_url, space), response_url)

    def answer_later(self, response_url: str, flow_ids: Sequence[str], space: str | None) -> None:
        """Fetch in the background and deliver through response_url (the caller has acked)."""
        fetch = asyncio.create_task(self.service.get_many(flow_ids, space))
        self.inflight.spawn(self._follow_up(fetch, response_url, space), response_url)

    def send_later(self, response_url: str, message: render.Message) -> None:
        """Post `message` to response_url in the background (the caller has acked)."""
        self.inflight.spawn(self.replies.post(response_url, message), response_url)

    async def apologise(self, response_urls: Sequence[str]) -> None:
        """Tell each person still owed a reply that the bot restarted before it was ready."""
        message = render.restarted_message()
        # One apology per person, however many of their replies were cut short.
        unique = dict.fromkeys(response_urls)
        await asyncio.gather(*(self.replies.post(url, message) for url in unique))

    async def _follow_up(
        self, fetch: asyncio.Task[Outcomes], response_url: str, space: str | None
    ) -> None:
        try:
            message = self._render(await fetch, space)
        except asyncio.CancelledError:
            fetch.cancel()
            raise
        except Exception:
            log.exception("fetching previews failed")
            message = render.internal_error_message()
        await self.replies.post(response_url, message)

    def _render(self, outcomes: Outcomes, space: str | None) -> render.Message:
        return render.preview_message(outcomes, space, self.wall_clock())
