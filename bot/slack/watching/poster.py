"""Posting the changes the poller found: once per watching channel, in the flow's thread.

The replica holding the poller's lease posts: it claims deliveries from the store (no two
posters get the same one), posts them with `chat.postMessage` paced to Slack's one message a
second per channel, and marks each posted with the message's ts. A flow's first message in a
channel starts its thread; later changes are replies, and those to BLOCKED or THROTTLED are also
sent to the channel (`reply_broadcast`). A channel that was archived, or that the bot is no
longer in, ends its watches with one log line; one that may no longer see a space stops hearing
of it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum, auto

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import WATCH_CHANGES_POSTED, WATCH_POST_FAILURES
from bot.slack.admission.channels import ChannelAccess
from bot.slack.blocks.watching import URGENT, change_message, paused_message
from bot.slack.edge.pacing import Pacer, PacingError
from bot.slack.edge.web_api import SlackWebError, WebErrorKind
from bot.store.audit import AuditOutcome, AuditRecord, AuditTrail
from bot.store.watches import Delivery, Watch, Watches

log = logging.getLogger(__name__)

# Deliveries claimed at a time, and how long one claimed by a replica that died waits: far
# longer than a batch takes (a channel's posts go a second apart, each waiting at most a minute
# for its turn), so that a replica still posting never has its posts taken from it.
BATCH = 50
STALE_S = 900.0
# With nothing to post, how often the store is looked at (a change found here wakes it at once).
IDLE_S = 5.0
# Slack's answers that mean the channel is gone for the bot: its watches end.
GONE = frozenset({"not_in_channel", "channel_not_found", "is_archived", "channel_is_archived"})

Clients = Callable[[str], Awaitable[AsyncWebClient | None]]


class _Outcome(Enum):
    """What became of one delivery."""

    POSTED = auto()
    # Put back to pending: Slack asked to wait, or could not be reached.
    PUT_BACK = auto()
    # Slack refused this message; it is not tried again.
    FAILED = auto()
    # The channel is gone for the bot: its watches ended.
    GONE = auto()


_NOW = functools.partial(datetime.now, UTC)


class ChangePoster:
    """Posts pending deliveries; `clients(team_id)` gives a Web API client with that
    workspace's bot token (None when it is no longer installed)."""

    def __init__(
        self,
        watches: Watches,
        clients: Clients,
        *,
        trail: AuditTrail | None = None,
        pacer: Pacer | None = None,
        leading: Callable[[], bool] | None = None,
        channels: ChannelAccess | None = None,
        clock: Callable[[], datetime] = _NOW,
    ) -> None:
        self.watches = watches
        self.trail = trail
        # Whether this replica is the one that posts (the poller's lease holder): with one
        # poster, a channel's posts keep Slack's pace whatever the number of replicas.
        self._leading = leading
        # Whether a channel may still see a space, checked again before each post.
        self._channels = channels
        self._stopping = False
        self._clients = clients
        self._clock = clock
        # chat.postMessage allows about one message a second per channel.
        self._pacer = pacer or Pacer(60, burst=1, max_wait=60.0)
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something may be waiting to be posted: look now."""
        self._wake.set()

    async def run(self) -> None:
        """Post what is pending, then wait for more, while this replica leads; until `finish`."""
        while not self._stopping:
            leads = self._leading is None or self._leading()
            claimed, put_back = await self._post_batch() if leads else (0, 0)
            if claimed > put_back:
                continue
            # Nothing to post, or nothing Slack would take now (put back to try later): wait,
            # rather than ask again at once.
            self._wake.clear()
            try:
                async with asyncio.timeout(IDLE_S):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def finish(self) -> None:
        """Stop once the batch being posted is done: a post cut short after Slack took it
        would be posted again by the next poster."""
        self._stopping = True
        self._wake.set()

    async def post_pending(self) -> int:
        """Post one batch of pending deliveries, each channel's in order; how many were claimed."""
        claimed, _ = await self._post_batch()
        return claimed

    async def _post_batch(self) -> tuple[int, int]:
        """Post one batch: how many deliveries were claimed, and how many of them were put
        back to try later."""
        deliveries = await self.watches.claim_deliveries(BATCH, stale_after=STALE_S)
        by_channel: dict[tuple[str, str], list[Delivery]] = {}
        for delivery in deliveries:
            by_channel.setdefault((delivery.team_id, delivery.channel_id), []).append(delivery)
        put_back = await asyncio.gather(*(self._post_all(batch) for batch in by_channel.values()))
        return len(deliveries), sum(put_back)

    async def notify_paused(self, watch: Watch, reason: str) -> None:
        """Tell the channel, once, that one of its watches is paused."""
        client = await self._clients(watch.team_id)
        if client is None:
            return
        message = paused_message(watch, reason)
        try:
            await self._pacer.call(
                watch.channel_id,
                lambda: client.chat_postMessage(channel=watch.channel_id, **message),
            )
        except (SlackWebError, PacingError) as error:
            log.warning("watch: could not say a watch is paused in %s: %s", watch.channel_id, error)

    async def _post_all(self, deliveries: list[Delivery]) -> int:
        """Post one channel's deliveries in order (a flow's at most one, its thread known):
        how many were put back to try later."""
        put_back = 0
        for delivery in deliveries:
            outcome = await self._post(delivery)
            if outcome is _Outcome.GONE:
                # Its watches ended, and its other deliveries failed with them.
                break
            put_back += outcome is _Outcome.PUT_BACK
        return put_back

    async def _post(self, delivery: Delivery) -> _Outcome:
        """Post one delivery, a reply in its flow's thread when there is one."""
        change = delivery.change
        parent = delivery.parent_ts
        key = (change.id, delivery.team_id, delivery.channel_id)
        client = await self._clients(delivery.team_id)
        if client is None:
            WATCH_POST_FAILURES.labels("not_installed").inc()
            await self.watches.failed(*key, "not_installed")
            ended = await self.watches.end_channel(delivery.team_id, delivery.channel_id)
            log.warning(
                "watch: the app is no longer installed in %s; %d watches of %s ended",
                delivery.team_id,
                ended,
                delivery.channel_id,
            )
            return _Outcome.GONE
        channels = self._channels
        if channels is not None and (
            await channels.seen(client, delivery.team_id, delivery.channel_id, change.space_id)
            is False
        ):
            # Shared outside, or no longer let in by a rule, since the watch began. When Slack
            # cannot say, the post itself will tell whether the channel is there.
            await self._unseen(delivery)
            return _Outcome.FAILED
        message = change_message(change)
        try:
            answer = await self._pacer.call(
                delivery.channel_id,
                lambda: client.chat_postMessage(
                    channel=delivery.channel_id,
                    text=message["text"],
                    blocks=message["blocks"],
                    thread_ts=parent,
                    reply_broadcast=parent is not None and change.new_status in URGENT,
                    unfurl_links=False,
                    unfurl_media=False,
                ),
            )
        except PacingError:
            WATCH_POST_FAILURES.labels("rate_limited").inc()
            await self.watches.release(*key)
            return _Outcome.PUT_BACK
        except SlackWebError as error:
            return await self._refused(delivery, error)
        ts = answer.get("ts") if isinstance(answer.data, dict) else None
        ts = ts if isinstance(ts, str) else ""
        if parent is None and ts:
            # Before the change counts as posted: until then no replica takes the flow's next
            # change for this channel, which must find its thread.
            await self.watches.set_thread(
                delivery.team_id, delivery.channel_id, change.space_id, change.flow_id, ts
            )
        await self.watches.posted(*key, ts)
        WATCH_CHANGES_POSTED.inc()
        self._audit(delivery)
        return _Outcome.POSTED

    def _audit(self, delivery: Delivery) -> None:
        if self.trail is None:
            return
        change = delivery.change
        self.trail.record(
            AuditRecord(
                at=self._clock(),
                team_id=delivery.team_id,
                channel_id=delivery.channel_id,
                user_id="",
                flow_id=change.flow_id,
                space_id=change.space_id,
                outcome=AuditOutcome.POSTED,
                reason=f"{change.kind.value}: {change.old_status} -> {change.new_status}",
            )
        )

    async def _unseen(self, delivery: Delivery) -> None:
        """The channel may no longer see the change's space: its watches of it end."""
        change = delivery.change
        WATCH_POST_FAILURES.labels("not_seen").inc()
        await self.watches.failed(change.id, delivery.team_id, delivery.channel_id, "not_seen")
        ended = 0
        for watch in await self.watches.for_channel(delivery.team_id, delivery.channel_id):
            if watch.space_id == change.space_id:
                await self.watches.remove(
                    watch.team_id, watch.channel_id, watch.space_id, watch.flow_id
                )
                ended += 1
        log.warning(
            "watch: %s may no longer see space %r; its %d watches of it ended",
            delivery.channel_id,
            change.space_id,
            ended,
        )

    async def _refused(self, delivery: Delivery, error: SlackWebError) -> _Outcome:
        key = (delivery.change.id, delivery.team_id, delivery.channel_id)
        code = error.code or "refused"
        if error.kind is WebErrorKind.REFUSED and code in GONE:
            WATCH_POST_FAILURES.labels(code).inc()
            await self.watches.failed(*key, code)
            ended = await self.watches.end_channel(delivery.team_id, delivery.channel_id)
            log.warning(
                "watch: %s is gone for the bot (%s); its %d watches ended",
                delivery.channel_id,
                code,
                ended,
            )
            return _Outcome.GONE
        if error.kind is WebErrorKind.REFUSED:
            # Slack's own answer about this message: asking again gets the same one.
            WATCH_POST_FAILURES.labels("refused").inc()
            await self.watches.failed(*key, code)
            log.warning(
                "watch: Slack refused change %d for %s: %s; not tried again",
                delivery.change.id,
                delivery.channel_id,
                error,
            )
            return _Outcome.FAILED
        WATCH_POST_FAILURES.labels("unavailable").inc()
        log.warning("watch: could not post to %s: %s; trying again", delivery.channel_id, error)
        await self.watches.release(*key)
        return _Outcome.PUT_BACK
