"""Whether the person behind a Slack request may see a space, decided before any CAMS call.

The space a request means is the one typed (`space:<id>`), else the channel's default
(`/flowpreview config space <id>`), else CAMS_CUST_SPACE_ID. Who is asking comes from Slack's
users.info (guest? another organisation? admin?), cached; the rules come from this process's copy
of the rule book. A refusal is recorded on the audit trail and logged with its reason; the person
is told only that they may not, nothing about the space. A typed space that differs from a known
one only in case or '_' versus '-' is refused before anything else, whoever asks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.policy import Decision, Person, Refusal, decide
from bot.access.rules import RuleBook
from bot.access.settings import AccessSettings
from bot.access.snapshot import RuleSnapshot
from bot.metrics import ACCESS_REFUSED
from bot.slack.admission.asker import Asker
from bot.slack.admission.auditing import Auditor
from bot.slack.admission.directory import Directory, DirectoryError

log = logging.getLogger(__name__)

# The key a space left to CAMS_CUST_SPACE_ID has in the rules when none is configured: no rule
# can name it, so only the default policy applies to it.
NO_SPACE = ""
# How long an admission is remembered for the same person, channel and space: far below the
# directory's own caching, so a change there (a guest made a member) shows about as soon.
ADMITTED_S = 1.0
ADMITTED_KEPT = 10_000
# The refusal reason when Slack could not say who asked.
UNVERIFIED = "unverified"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the request may go on, in which space (None: the configured default), and why."""

    allowed: bool
    space: str | None
    why: str
    # Refused because the typed space is a look-alike of a known one: worth a sentence.
    look_alike: bool = False
    # Refused because Slack could not say who is asking: worth another.
    unverified: bool = False


class Gate:
    """The access check every listener makes before it asks CAMS anything."""

    def __init__(
        self,
        book: RuleBook,
        directory: Directory,
        settings: AccessSettings,
        auditor: Auditor,
        *,
        default_space: Callable[[str | None], str | None],
        multi_workspace: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.book = book
        self.directory = directory
        self.settings = settings
        self.auditor = auditor
        self._default_space = default_space
        self.multi_workspace = multi_workspace
        self._clock = clock
        # Admissions lately decided on the rules `_admitted_on`: the verdict, and until when.
        # A plain dict, emptied when full: entries live a second, and a dict lookup is what
        # the hot path can afford (an LRUCache's was most of the check).
        self._admitted: dict[tuple[Asker, str | None], tuple[Verdict, float]] = {}
        self._admitted_on: RuleSnapshot | None = None

    def space_for(self, asker: Asker, typed: str | None) -> str | None:
        """The space a request means: `typed`, else the channel's default, else None."""
        if typed is not None:
            return typed
        if not asker.channel_id:
            return None
        return self.book.snapshot().channel_space(asker.team_id, asker.channel_id)

    def administers(self, asker: Asker, space: str) -> bool:
        """Whether an admin of `asker`'s workspace may change `space`'s rules: any space with
        one workspace; only those bound to theirs with several, so that no customer's admin
        can read or change another customer's rules."""
        return not self.multi_workspace or space in self.book.snapshot().bound(asker.team_id)

    def look_alike(self, space: str) -> str | None:
        """The known space (configured, or named by a rule, channel or binding) that `space`
        differs from only in case or '_' versus '-'; None when there is none."""
        return self.book.configured_look_alike(space) or self.book.snapshot().look_alike(space)

    def effective_space(self, space: str | None) -> str | None:
        """`space`, or the deployment's default (CAMS_CUST_SPACE_ID) when it is None."""
        return self._default_space(space)

    async def person(self, client: AsyncWebClient, asker: Asker) -> Person:
        """Who `asker` is, as the rules need it; raises DirectoryError when Slack cannot tell."""
        return await self.directory.person(
            client,
            asker.team_id,
            asker.user_id,
            asker.channel_id,
            groups_that_matter=self.settings.groups_that_matter(self.book.snapshot()),
            admin_users=self.settings.admin_users,
        )

    async def check(
        self,
        client: AsyncWebClient,
        asker: Asker,
        typed: str | None,
        flow_ids: tuple[str, ...] = (),
    ) -> Verdict:
        """Whether `asker` may see the space `typed` (or the one the channel or the deployment
        defaults to); a refusal is recorded for each of `flow_ids` (or once without one)."""
        snapshot = self.book.snapshot()
        if snapshot is not self._admitted_on:
            # Decided on rules since replaced: forget them all, and the old rules with them.
            self._admitted.clear()
            self._admitted_on = snapshot
        now = self._clock()
        remembered = self._admitted.get((asker, typed))
        if remembered is not None and now < remembered[1]:
            return remembered[0]
        if typed is not None and (twin := self.look_alike(typed)) is not None:
            ACCESS_REFUSED.labels(Refusal.LOOK_ALIKE.value).inc()
            why = f"refused: {Refusal.LOOK_ALIKE.value} {twin}"
            self._refused(asker, typed, typed, why, flow_ids)
            return Verdict(False, typed, why, look_alike=True)
        space = self.space_for(asker, typed)
        effective = self.effective_space(space) or NO_SPACE
        try:
            person = await self.person(client, asker)
        except DirectoryError as error:
            log.warning("access not checked, refused: %s", error)
            ACCESS_REFUSED.labels(UNVERIFIED).inc()
            why = f"{UNVERIFIED}: {error.kind.value}"
            self._refused(asker, space, effective, why, flow_ids)
            return Verdict(False, space, why, unverified=True)
        decision = self.allowed(person, space)
        if not decision.allowed:
            ACCESS_REFUSED.labels(decision.reason.value).inc()
            return self._refused(asker, space, effective, decision.describe(), flow_ids)
        verdict = Verdict(True, space, decision.describe())
        # The same person asking again within ADMITTED_S, with the same rules, is let in again
        # without working it out: on the hot path that was most of the check.
        if len(self._admitted) >= ADMITTED_KEPT:
            self._admitted.clear()
        self._admitted[(asker, typed)] = (verdict, now + ADMITTED_S)
        return verdict

    def allowed(self, person: Person, space: str | None) -> Decision:
        """The decision for `person` on `space` (None: the deployment's default)."""
        effective = self.effective_space(space) or NO_SPACE
        return decide(
            person, effective, self.book.snapshot(), self.settings.default, self.multi_workspace
        )

    def _refused(
        self,
        asker: Asker,
        space: str | None,
        effective: str,
        why: str,
        flow_ids: tuple[str, ...],
    ) -> Verdict:
        log.info("refused %s in space %r: %s", asker.user_id, effective, why)
        self.auditor.refused(asker, effective or None, why, flow_ids)
        return Verdict(False, space, why)


async def admitted(
    gate: Gate | None,
    client: AsyncWebClient,
    context: Mapping[str, Any],
    typed: str | None,
    flow_ids: tuple[str, ...] = (),
) -> Verdict:
    """`gate`'s verdict on a Bolt request; without a gate (no store) everyone is let in."""
    if gate is None:
        return Verdict(True, typed, "no access rules")
    return await gate.check(client, Asker.of(context), typed, flow_ids)
