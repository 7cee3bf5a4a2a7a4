"""Who was given, shared or refused which preview: the Slack side of the audit trail.

Preview links are bearer tokens that work for weeks, so each one handed out is recorded with
who asked and where. The person and place come from the request's context, which the events
handler (or the Socket Mode handler) binds before any listener runs; the records go onto the
trail's queue without waiting, so auditing never holds an ack back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.cams.errors import CamsError
from bot.cams.models import FlowPreview
from bot.logs import current_context
from bot.preview.errors import BusyError
from bot.preview.service import Outcome
from bot.slack.admission.asker import Asker
from bot.store.audit import AuditOutcome, AuditRecord, AuditTrail

# A partial of the C function, not a lambda: called for every preview handed out.
_NOW = functools.partial(datetime.now, UTC)


class Auditor:
    """Records previews handed out; does nothing when there is no trail."""

    def __init__(
        self,
        trail: AuditTrail | None,
        space_for: Callable[[str | None], str | None],
        *,
        clock: Callable[[], datetime] = _NOW,
    ) -> None:
        self.trail = trail
        self._space_for = space_for
        self._clock = clock

    def outcomes(
        self,
        outcomes: Sequence[tuple[str, Outcome]],
        space: str | None,
        *,
        shared: bool = False,
        channel: str | None = None,
        user: str | None = None,
    ) -> None:
        """Record each flow's outcome: a preview given (or shared into `channel`), or why not;
        `user` is who it was for when the request's context does not say (a workflow step)."""
        trail = self.trail
        if trail is None:
            return
        context = current_context()
        at = self._clock()
        space_id = self._space_for(space)
        for flow_id, outcome in outcomes:
            recorded = AuditOutcome.SHARED if shared else AuditOutcome.GIVEN
            reason: str | None = None
            request_id: str | None = None
            if isinstance(outcome, FlowPreview):
                request_id = outcome.request_id
            else:
                recorded, reason, request_id = AuditOutcome.FAILED, _reason(outcome), _id(outcome)
            trail.record(
                AuditRecord(
                    at=at,
                    # The picker's modal has no channel: its records have an empty one.
                    team_id=context.get("team", ""),
                    channel_id=channel or context.get("channel", ""),
                    user_id=user or context.get("user", ""),
                    flow_id=flow_id,
                    space_id=space_id,
                    outcome=recorded,
                    reason=reason,
                    request_id=request_id,
                )
            )

    def refused(
        self, asker: Asker, space_id: str | None, why: str, flow_ids: Sequence[str]
    ) -> None:
        """Record a request the access rules refused: once per flow asked for, or once."""
        trail = self.trail
        if trail is None:
            return
        at = self._clock()
        for flow_id in flow_ids or (None,):
            trail.record(
                AuditRecord(
                    at=at,
                    team_id=asker.team_id,
                    channel_id=asker.channel_id,
                    user_id=asker.user_id,
                    flow_id=flow_id,
                    space_id=space_id,
                    outcome=AuditOutcome.REFUSED,
                    reason=why,
                )
            )

    def watch(
        self, asker: Asker, space_id: str, flow_id: str | None, outcome: AuditOutcome
    ) -> None:
        """Record a channel starting or stopping a watch (of a whole space when no flow)."""
        if self.trail is None:
            return
        self.trail.record(
            AuditRecord(
                at=self._clock(),
                team_id=asker.team_id,
                channel_id=asker.channel_id,
                user_id=asker.user_id,
                flow_id=flow_id,
                space_id=space_id,
                outcome=outcome,
            )
        )


def _reason(failure: object) -> str:
    if isinstance(failure, CamsError):
        return failure.kind.value
    if isinstance(failure, BusyError):
        return "busy"
    return type(failure).__name__


def _id(failure: object) -> str | None:
    return failure.request_id if isinstance(failure, CamsError) else None
