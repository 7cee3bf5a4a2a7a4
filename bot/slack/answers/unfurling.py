"""Link unfurls: a WhatsApp flow link pasted in a conversation becomes a card.

On `link_shared` the links that name a flow are picked out (at most MAX_LINKS per message),
and each gets a card by `chat.unfurl`: the flow's name and status when the channel may see its
space, found in the caches or by GetFlow within the ack budget, and a **Get my preview**
button. A card never holds a preview link. The same flow is not unfurled twice in a channel
within REPEAT_S, whichever replica gets the event (marks on Redis). A pasted preview link
itself is not unfurled: chat.unfurl names each card by the exact URL pasted, which would send
its token back out; whoever pasted it is told, privately, that anyone in the channel can open
it. `chat.unfurl` is paced per workspace to its rate tier.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.models import FlowDetails
from bot.metrics import UNFURLS
from bot.preview.service import PreviewService
from bot.slack.admission.channels import ChannelAccess
from bot.slack.answers.delivery import Delivery, settle
from bot.slack.blocks import cards
from bot.slack.edge.inflight import InFlight
from bot.slack.edge.pacing import Pacer, PacingError
from bot.slack.edge.web_api import SlackWebError, WebErrorKind, as_web_client
from bot.slack.parsing import FlowLink, flow_link

log = logging.getLogger(__name__)

# Flow links unfurled in one message at most; the rest stay plain links.
MAX_LINKS = 5
# The same flow in the same channel is unfurled again only after this long (as GitHub's app).
REPEAT_S = 30 * 60.0
# The marks of flows unfurled lately, per workspace, channel and flow.
MARK_SCOPE = "unfurl"
# What link_shared calls a message still in the message box.
COMPOSER = "COMPOSER"

_SENT = UNFURLS.labels("sent")
_REPEAT = UNFURLS.labels("repeat")
_FAILED = UNFURLS.labels("failed")


@dataclass(frozen=True, slots=True)
class SharedLinks:
    """What a `link_shared` event says, checked: where the message is and its flow links."""

    team_id: str
    user_id: str
    channel: str
    message_ts: str
    unfurl_id: str
    source: str
    # (url, flow link) in the order pasted, distinct flows, at most MAX_LINKS; no preview links.
    links: tuple[tuple[str, FlowLink], ...]
    # Whether a preview link (one with a token) was among them.
    preview_pasted: bool = False
    # The thread the message is in, if any, and whether the bot is in the channel.
    thread_ts: str | None = None
    bot_member: bool = False

    @property
    def in_composer(self) -> bool:
        """Whether the message is still being written: no channel is known yet."""
        return self.channel == COMPOSER or self.source == "composer"


def shared_links(event: Mapping[str, Any], team_id: str) -> SharedLinks | None:
    """The event's flow links and where they are; None when it names no flow, or is not a
    link_shared event Slack would send."""
    links = event.get("links")
    fields = [event.get(name) for name in ("user", "channel", "message_ts")]
    if not isinstance(links, list) or not all(isinstance(f, str) and f for f in fields):
        return None
    found: list[tuple[str, FlowLink]] = []
    flows: set[str] = set()
    preview_pasted = False
    for link in links:
        url = link.get("url") if isinstance(link, dict) else None
        if not isinstance(url, str):
            continue
        named = flow_link(url)
        if named is not None and named.has_token:
            preview_pasted = True
            continue
        if named is None or named.flow_id in flows:
            continue
        flows.add(named.flow_id)
        found.append((url, named))
        if len(found) == MAX_LINKS:
            break
    if not found and not preview_pasted:
        return None
    unfurl_id, source, thread = event.get("unfurl_id"), event.get("source"), event.get("thread_ts")
    return SharedLinks(
        team_id=team_id,
        user_id=str(fields[0]),
        channel=str(fields[1]),
        message_ts=str(fields[2]),
        unfurl_id=unfurl_id if isinstance(unfurl_id, str) else "",
        source=source if isinstance(source, str) else "",
        links=tuple(found),
        preview_pasted=preview_pasted,
        thread_ts=thread if isinstance(thread, str) and thread else None,
        bot_member=event.get("is_bot_user_member") is True,
    )


class Unfurler:
    """Answers `link_shared` with cards; the work runs in tasks that shutdown drains."""

    def __init__(
        self,
        service: PreviewService,
        delivery: Delivery,
        channels: ChannelAccess,
        inflight: InFlight,
        *,
        pacer: Pacer | None = None,
    ) -> None:
        self.service = service
        self.delivery = delivery
        self.channels = channels
        self.inflight = inflight
        self.pacer = pacer or Pacer()

    def handle(self, shared: SharedLinks, client: AsyncWebClient) -> None:
        """Unfurl `shared`'s flow links and warn about preview links, in the background."""
        self.inflight.spawn(self.unfurl(shared, as_web_client(client)))

    async def unfurl(self, shared: SharedLinks, client: AsyncWebClient) -> None:
        """Send the cards for `shared`'s flow links not unfurled in its channel lately."""
        deadline = self.delivery.deadline()
        if shared.preview_pasted and not shared.in_composer:
            self.inflight.spawn(self._warn(shared, client))
        links = await self._not_repeated(shared)
        if not links:
            return
        space = (
            None if shared.in_composer else self.channels.space_of(shared.team_id, shared.channel)
        )
        # The space the card would name: without one configured there is nothing to look up.
        shown = self.service.client.space_for(space)
        visible = (
            shown is not None
            and not shared.in_composer
            and await self.channels.sees(client, shared.team_id, shared.channel, space)
        )
        flow_ids = [link.flow_id for _, link in links]
        if visible:
            await self._details(flow_ids, space, deadline)
        unfurls = {
            url: {
                "blocks": cards.unfurl_blocks(
                    link.flow_id,
                    space=shown,
                    about=self.service.known(link.flow_id, space) if visible else None,
                    visible=visible,
                )
            }
            for url, link in links
        }
        await self._send(shared, client, unfurls, flow_ids)

    async def _not_repeated(self, shared: SharedLinks) -> list[tuple[str, FlowLink]]:
        """The links whose flow was not unfurled in the channel within REPEAT_S, by this
        replica or (with Redis) another; marks them."""
        if shared.in_composer:
            return list(shared.links)
        marks = self.service.marks
        fresh = []
        for url, link in shared.links:
            key = (shared.team_id, shared.channel, link.flow_id)
            if not await marks.claim(MARK_SCOPE, key, REPEAT_S):
                _REPEAT.inc()
                continue
            fresh.append((url, link))
        return fresh

    async def _details(self, flow_ids: Sequence[str], space: str | None, deadline: float) -> None:
        """Ask GetFlow for the flows whose status is not cached, until `deadline`."""
        wanted = [
            flow_id
            for flow_id in flow_ids
            if not isinstance(self.service.known(flow_id, space), FlowDetails)
        ]
        lookups = self.delivery.look_up(wanted, space)
        await settle(lookups, deadline - asyncio.get_running_loop().time())

    async def _send(
        self,
        shared: SharedLinks,
        client: AsyncWebClient,
        unfurls: dict[str, Any],
        flow_ids: Sequence[str],
    ) -> None:
        async def call() -> Any:
            if shared.in_composer:
                return await client.chat_unfurl(
                    unfurls=unfurls, unfurl_id=shared.unfurl_id, source="composer"
                )
            return await client.chat_unfurl(
                unfurls=unfurls, channel=shared.channel, ts=shared.message_ts
            )

        try:
            await self.pacer.call(shared.team_id, call)
        except (SlackWebError, PacingError) as error:
            _FAILED.inc(len(unfurls))
            log.warning("could not unfurl %d flow links: %s", len(unfurls), error)
            if not shared.in_composer:
                for flow_id in flow_ids:
                    # Unfurled nowhere: a later paste of the flow may try again.
                    key = (shared.team_id, shared.channel, flow_id)
                    await self.service.marks.release(MARK_SCOPE, key)
            return
        _SENT.inc(len(unfurls))

    async def _warn(self, shared: SharedLinks, client: AsyncWebClient) -> None:
        """Tell whoever pasted a preview link, beside it; where the bot may not post (it is not
        in the channel), in a direct message from the app."""
        message = cards.pasted_preview_message()
        if shared.bot_member:
            try:
                await client.chat_postEphemeral(
                    channel=shared.channel,
                    user=shared.user_id,
                    thread_ts=shared.thread_ts,
                    **message,
                )
            except SlackWebError as error:
                if error.kind is not WebErrorKind.REFUSED:
                    log.warning("could not warn about a pasted preview link: %s", error)
                    return
                log.info("warning about a pasted preview link directly: %s", error)
            else:
                return
        try:
            await client.chat_postMessage(channel=shared.user_id, **message)
        except SlackWebError as error:
            log.warning("could not warn about a pasted preview link: %s", error)
