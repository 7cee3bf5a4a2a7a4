"""What the listeners work with: one frozen object, wired once when the server is built.

Every collaborator a listener needs is a field here, set before the first request and never
replaced, so a listener never reaches through one object to find another and never sees one
that is still missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.access.rules import RuleBook
from bot.access.settings import AccessSettings
from bot.preview.catalog import FlowCatalog
from bot.preview.details import FlowDetailsCache
from bot.preview.service import PreviewService
from bot.slack.admission.auditing import Auditor
from bot.slack.admission.channels import ChannelAccess, ChannelDirectory
from bot.slack.admission.directory import Directory
from bot.slack.admission.gate import Gate
from bot.slack.answers.delivery import Delivery
from bot.slack.answers.finding import Finder
from bot.slack.answers.home_tab import HomeTab
from bot.slack.answers.unfurling import Unfurler
from bot.slack.edge.inflight import InFlight
from bot.slack.edge.replies import ReplyPoster
from bot.slack.edge.reply_hosts import ReplyHosts
from bot.slack.settings import SlackSettings
from bot.store.store import Store
from bot.store.watches import Watches


@dataclass(frozen=True, slots=True)
class Deps:
    """The listeners' collaborators."""

    # Previews by flow ID, through the caches, single-flight and the limiter; and the spaces
    # a person may pick from (`service.spaces`).
    service: PreviewService
    # Each space's flows (search, the picker's list) and GetFlow's names and statuses.
    catalog: FlowCatalog
    details: FlowDetailsCache
    # Who may see which space; None without a store to keep access rules in.
    gate: Gate | None
    auditor: Auditor
    delivery: Delivery
    finder: Finder
    # Work still owed to someone after the ack, which shutdown waits for.
    inflight: InFlight
    replies: ReplyPoster
    # Each channel's watches of flows and spaces; None without a store to keep them in.
    watches: Watches | None
    # What a whole channel may see; cards for pasted flow links; each person's Home tab.
    channels: ChannelAccess
    unfurler: Unfurler
    home: HomeTab
    # The time the previews' expiry is told from.
    wall_clock: Callable[[], float]


def wire(
    settings: SlackSettings,
    service: PreviewService,
    *,
    ack_budget: float,
    store: Store | None = None,
    access: AccessSettings | None = None,
    wall_clock: Callable[[], float] = time.time,
) -> Deps:
    """The listeners' collaborators for `service`: with a `store`, access rules and an audit
    trail on it; without, every space open and nothing recorded."""
    inflight = InFlight()
    replies = ReplyPoster(ReplyHosts(settings.response_url_hosts))
    auditor = Auditor(store.audit if store is not None else None, service.client.space_for)
    gate = None
    if store is not None:
        policy = access or AccessSettings()
        gate = Gate(
            RuleBook(store.database, cache_s=policy.cache_s, known=[s.id for s in service.spaces]),
            Directory(),
            policy,
            auditor,
            default_space=service.client.space_for,
            multi_workspace=settings.multi_workspace,
        )
    delivery = Delivery(
        service, inflight, replies, auditor, ack_budget=ack_budget, wall_clock=wall_clock
    )
    channels = ChannelAccess(gate, ChannelDirectory(), service.client.space_for)
    unfurler = Unfurler(service, delivery, channels, inflight)
    home = HomeTab(
        service,
        gate,
        store.audit if store is not None else None,
        store.pins if store is not None else None,
        inflight,
    )
    return Deps(
        service=service,
        catalog=service.catalog,
        details=service.details,
        gate=gate,
        auditor=auditor,
        delivery=delivery,
        finder=Finder(delivery, service),
        inflight=inflight,
        replies=replies,
        watches=store.watches if store is not None else None,
        channels=channels,
        unfurler=unfurler,
        home=home,
        wall_clock=wall_clock,
    )
