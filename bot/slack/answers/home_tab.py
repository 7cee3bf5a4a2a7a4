"""The Home tab: published for a person when they open it, search, pin or unpin.

`app_home_opened` fires on every visit, so a publish for the same person within DEBOUNCE_S of
the last is skipped. What the view shows is gathered fresh each time: the spaces the access
rules let the person see, a search across them, their pins and recent previews (kept in the
database), and for admins the channel spaces and rules. It never holds a preview link.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field

from cachetools import TTLCache
from slack_sdk.web.async_client import AsyncWebClient

from bot.access.policy import Person
from bot.metrics import HOME_PUBLISHES
from bot.preview.service import PreviewService
from bot.slack.admission.asker import Asker
from bot.slack.admission.directory import DirectoryError
from bot.slack.admission.gate import Gate
from bot.slack.blocks.home import AdminPart, HomeContent, HomeFlow, home_view
from bot.slack.edge.inflight import InFlight
from bot.slack.edge.web_api import SlackWebError, WebErrorKind, as_web_client
from bot.store.audit import AuditTrail
from bot.store.database import DatabaseError
from bot.store.pins import Pins

log = logging.getLogger(__name__)

# Opening the tab again within this long publishes nothing new.
DEBOUNCE_S = 5.0
DEBOUNCED_KEPT = 10_000
SEARCH_RESULTS = 10
RECENT_FLOWS = 10
# How long a search waits for a flow list nobody has loaded yet.
SEARCH_WAIT_S = 3.0
PUBLISH_TIMEOUT_S = 10.0

_PUBLISHED = HOME_PUBLISHES.labels("published")
_DEBOUNCED = HOME_PUBLISHES.labels("debounced")
_FAILED = HOME_PUBLISHES.labels("failed")


class HomeTab:
    """Gathers and publishes each person's Home view."""

    def __init__(
        self,
        service: PreviewService,
        gate: Gate | None,
        trail: AuditTrail | None,
        pins: Pins | None,
        inflight: InFlight,
        *,
        debounce: float = DEBOUNCE_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.service = service
        self.gate = gate
        self.trail = trail
        self.pins = pins
        self.inflight = inflight
        self._opened: TTLCache[tuple[str, str], bool] = TTLCache(DEBOUNCED_KEPT, debounce, clock)
        # Each person's publishes, one at a time: two at once (an open and a pin) could
        # otherwise land out of order, the older view last. Kept only while in use.
        self._turns: dict[tuple[str, str], _Turn] = {}

    def opened(self, client: AsyncWebClient, asker: Asker, query: str | None) -> None:
        """The person opened the tab: publish it (showing `query`'s results) unless it was
        published for them within the debounce."""
        key = (asker.team_id, asker.user_id)
        if key in self._opened:
            _DEBOUNCED.inc()
            return
        self._opened[key] = True
        self.inflight.spawn(self.publish(client, asker, query=query))

    async def publish(
        self,
        client: AsyncWebClient,
        asker: Asker,
        *,
        query: str | None = None,
        notice: str | None = None,
    ) -> None:
        """Publish `asker`'s Home view, with `query`'s matches and `notice` on top, after any
        publish for them still under way."""
        key = (asker.team_id, asker.user_id)
        turn = self._turns.setdefault(key, _Turn())
        turn.users += 1
        try:
            async with turn.lock:
                await self._publish(client, asker, query=query, notice=notice)
        finally:
            turn.users -= 1
            if not turn.users:
                del self._turns[key]

    async def _publish(
        self, client: AsyncWebClient, asker: Asker, *, query: str | None, notice: str | None
    ) -> None:
        content = await self.content(client, asker, query=query, notice=notice)
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT_S):
                await as_web_client(client).views_publish(
                    user_id=asker.user_id, view=home_view(content)
                )
        except SlackWebError as error:
            _FAILED.inc()
            level = logging.INFO if error.kind is WebErrorKind.REFUSED else logging.WARNING
            log.log(level, "could not publish the Home tab: %s", error)
            return
        except TimeoutError:
            _FAILED.inc()
            log.warning("could not publish the Home tab: no answer within %g s", PUBLISH_TIMEOUT_S)
            return
        # A publish for any reason counts as the latest: opening right after needs none.
        self._opened[(asker.team_id, asker.user_id)] = True
        _PUBLISHED.inc()

    async def content(
        self,
        client: AsyncWebClient,
        asker: Asker,
        *,
        query: str | None = None,
        notice: str | None = None,
    ) -> HomeContent:
        """What `asker`'s Home view shows now."""
        person: Person | None = None
        gate = self.gate
        if gate is not None:
            try:
                person = await gate.person(client, asker)
            except DirectoryError as error:
                log.warning("the Home tab shows nothing: %s", error)
                return HomeContent(unverified=True)
        spaces = self.spaces_for(person)
        for space in spaces:
            # Start loading each flow list now, so that a search soon after finds it ready.
            self.service.catalog.peek(space)
        recent, pins, kept = await self._kept(asker, spaces)
        # A match already pinned offers Unpin, as it does under Pinned.
        pinned = {(flow.flow_id, flow.space) for flow in pins}
        results, unsearched = await self._search(query, spaces, pinned) if query else (None, ())
        return HomeContent(
            query=query,
            results=results,
            unsearched=unsearched,
            recent=recent,
            pins=pins,
            kept=kept,
            spaces=spaces,
            admin=await self._admin(asker, person),
            notice=notice,
        )

    def spaces_for(self, person: Person | None) -> list[str]:
        """The configured spaces `person` may see (all without access rules)."""
        gate = self.gate
        return [
            space.id
            for space in self.service.spaces
            if gate is None or person is None or gate.allowed(person, space.id).allowed
        ]

    async def _search(
        self, query: str, spaces: Sequence[str], pinned: Set[tuple[str, str | None]]
    ) -> tuple[list[HomeFlow], list[str]]:
        """The best matches across `spaces` (those in `pinned` marked so), and the spaces
        whose flow list could not be had within SEARCH_WAIT_S."""
        found: list[tuple[float, int, HomeFlow]] = []
        unsearched: list[str] = []
        catalog = self.service.catalog
        snapshots = await asyncio.gather(*(catalog.wait(space, SEARCH_WAIT_S) for space in spaces))
        for order, (space, snapshot) in enumerate(zip(spaces, snapshots, strict=True)):
            if snapshot is None:
                unsearched.append(space)
                continue
            for match in snapshot.index.search(query, SEARCH_RESULTS).matches:
                flow_id = match.flow.flow_id
                flow = self._flow(flow_id, space, pinned=(flow_id, space) in pinned)
                found.append((-match.score, order, flow))
        found.sort(key=lambda item: (item[0], item[1]))
        return [flow for _, _, flow in found[:SEARCH_RESULTS]], unsearched

    async def _kept(
        self, asker: Asker, spaces: Sequence[str]
    ) -> tuple[list[HomeFlow], list[HomeFlow], bool]:
        """Recent previews and pins in `spaces`, and whether the database kept them."""
        if self.trail is None or self.pins is None:
            return [], [], False
        allowed = set(spaces)
        try:
            recent, pinned = await asyncio.gather(
                self.trail.recent_flows(asker.team_id, asker.user_id, limit=RECENT_FLOWS),
                self.pins.list(asker.team_id, asker.user_id),
            )
        except (DatabaseError, OSError) as error:
            log.warning("the Home tab shows no pins or recent previews: %s", type(error).__name__)
            return [], [], False
        pinned_keys = {(pin.flow_id, self._space(pin.space_id)) for pin in pinned}
        pins = [
            self._flow(pin.flow_id, space, pinned=True)
            for pin in pinned
            if (space := self._space(pin.space_id)) in allowed
        ]
        recents = [
            self._flow(flow_id, space, pinned=(flow_id, space) in pinned_keys)
            for flow_id, space_id in recent
            if (space := self._space(space_id)) in allowed
        ]
        return recents, pins, True

    async def _admin(self, asker: Asker, person: Person | None) -> AdminPart | None:
        gate = self.gate
        if gate is None or person is None or not person.admin:
            return None
        snapshot = gate.book.snapshot()
        try:
            rules = await gate.book.rules()
        except (DatabaseError, OSError) as error:
            log.warning("the Home tab shows no rules: %s", type(error).__name__)
            rules = []
        return AdminPart(
            channel_spaces=[
                (channel, space)
                for channel, space in snapshot.channel_spaces(asker.team_id)
                if gate.administers(asker, space)
            ],
            rules=[
                (rule.space_id, rule.kind.value, rule.subject)
                for rule in rules
                if gate.administers(asker, rule.space_id)
            ],
            default=gate.settings.default.value,
        )

    def _space(self, space: str | None) -> str:
        """A concrete space: `space`, or the deployment's default for None."""
        return self.service.client.space_for(space) or ""

    def _flow(self, flow_id: str, space: str, *, pinned: bool) -> HomeFlow:
        return HomeFlow(flow_id, space, self.service.known(flow_id, space), pinned)


@dataclass(slots=True)
class _Turn:
    """One person's publishes waiting or under way."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0
