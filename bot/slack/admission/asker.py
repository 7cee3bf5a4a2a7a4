"""Who sent a Slack request, and from where: what the gate checks and the audit trail records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple


class Asker(NamedTuple):
    """Who sent a request, from where: the installing team, the user, the channel ("" when the
    request has none, as a global shortcut).

    A named tuple: one is made and hashed (the admission memo's key) on every request.
    """

    team_id: str
    user_id: str
    channel_id: str

    @classmethod
    def of(cls, context: Mapping[str, Any]) -> Asker:
        """The asker of a Bolt request, from its context.

        The team is the installation's (the authorisation's), not only the payload's: a member
        of another organisation in a Slack Connect channel may carry their own.
        """
        authorize = context.get("authorize_result")
        team = getattr(authorize, "team_id", None) or context.get("team_id") or ""
        return cls(
            str(team), str(context.get("user_id") or ""), str(context.get("channel_id") or "")
        )
