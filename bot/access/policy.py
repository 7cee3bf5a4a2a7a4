"""Who may preview which space: the person asking, the decision and why.

`decide` is pure and does no I/O: what it needs about the person (guest, external, groups) is
looked up before, and the rules come as a snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.access.ids import Kind
from bot.access.snapshot import RuleSnapshot


class AccessDefault(StrEnum):
    """Whether a space without rules is open to the workspace's own members, or to nobody."""

    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Person:
    """Someone asking for a preview, and what the access rules need to know about them.

    `guest`: a multi- or single-channel guest. `external`: a member of another organisation
    (Slack Connect), whose own team is not the one the app is installed in. `admin`: a
    workspace admin or owner, or named in ADMIN_USERS. `groups`: the user groups that matter
    (those some rule or ADMIN_USERS names) that the person belongs to. No field has a default:
    one forgotten must not quietly make a guest a member.
    """

    team_id: str
    user_id: str
    channel_id: str
    guest: bool
    external: bool
    admin: bool
    groups: frozenset[str]


class Refusal(StrEnum):
    """Why someone was refused, for logs and the audit trail (never for the person refused)."""

    NOT_BOUND = "not_bound"
    NOT_ALLOWED = "not_allowed"
    CLOSED_BY_DEFAULT = "closed_by_default"
    GUEST = "guest"
    EXTERNAL = "external"
    # The space typed differs from a known one only in case or '_' versus '-'.
    LOOK_ALIKE = "look_alike"


class Admission(StrEnum):
    """Why someone was let in."""

    CHANNEL_RULE = "channel_rule"
    USER_RULE = "user_rule"
    USERGROUP_RULE = "usergroup_rule"
    OPEN_BY_DEFAULT = "open_by_default"


_BY_RULE = {
    Kind.CHANNEL: Admission.CHANNEL_RULE,
    Kind.USER: Admission.USER_RULE,
    Kind.USERGROUP: Admission.USERGROUP_RULE,
}


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether `space_id` is open to the person, and why; `subject` is the ID named by the rule
    that admitted them (None when no rule did)."""

    space_id: str
    reason: Admission | Refusal
    subject: str | None = None

    @property
    def allowed(self) -> bool:
        """Whether the person may preview the space's flows."""
        return isinstance(self.reason, Admission)

    def describe(self) -> str:
        """One line for a log or an audit record: `refused: guest`, `allowed: user_rule U1`."""
        verdict = "allowed" if self.allowed else "refused"
        rule = f" {self.subject}" if self.subject is not None else ""
        return f"{verdict}: {self.reason.value}{rule}"


def decide(
    person: Person,
    space: str,
    book_snapshot: RuleSnapshot,
    default: AccessDefault,
    multi_workspace: bool,
) -> Decision:
    """Whether `person` may preview the flows of `space`.

    In multi-workspace mode the space must be bound to the person's team. Then a space with
    rules admits whoever a rule names (by channel, user or user group), guests and external
    people included, and nobody else. A space without rules admits the workspace's own members
    (not guests, not external people) when `default` is open, and nobody when it is closed.
    """
    if multi_workspace and space not in book_snapshot.bound(person.team_id):
        return Decision(space, Refusal.NOT_BOUND)
    rules = book_snapshot.rules_for(space)
    if rules:
        matched = rules.match(person.channel_id, person.user_id, person.groups)
        if matched is None:
            return Decision(space, Refusal.NOT_ALLOWED)
        kind, subject = matched
        return Decision(space, _BY_RULE[kind], subject)
    # Only a rule admits outsiders; reported before a closed default, which would refuse
    # them too, because it is the more specific reason.
    if person.external:
        return Decision(space, Refusal.EXTERNAL)
    if person.guest:
        return Decision(space, Refusal.GUEST)
    if default is AccessDefault.CLOSED:
        return Decision(space, Refusal.CLOSED_BY_DEFAULT)
    return Decision(space, Admission.OPEN_BY_DEFAULT)


def channel_sees(
    team_id: str,
    channel_id: str,
    space: str,
    book_snapshot: RuleSnapshot,
    *,
    default: AccessDefault,
    multi_workspace: bool,
    shared_externally: bool | None,
) -> bool:
    """Whether everyone in `channel_id` may see what `space` holds (a flow's name and status):
    a rule admits the channel, or the space has no rules, the default is open and the channel
    is not shared with another organisation.

    `shared_externally` is None when Slack could not say: the channel is then taken as shared,
    since a card seen by the wrong people cannot be taken back.
    """
    if multi_workspace and space not in book_snapshot.bound(team_id):
        return False
    rules = book_snapshot.rules_for(space)
    if rules:
        return channel_id in rules.channels
    return default is AccessDefault.OPEN and shared_externally is False
