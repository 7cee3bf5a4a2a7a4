"""Every ID shape the bot reads: Slack's channels, users, user groups, teams and views, and
CAMS's flows and spaces.

Only shapes, each a compiled pattern to `fullmatch` (the flow ID patterns that search text
excepted); what to do with a value that does not match stays with the caller. No import of the
rest of the bot: every layer imports this module (an import-linter contract in pyproject.toml
checks it).
"""

from __future__ import annotations

import re

# A Slack ID is a letter telling what it names, then upper-case letters and digits. Slack
# promises no fixed length; its IDs are a dozen characters and it has said they may grow to 21.
# At most 41 in all: the tighter of the two bounds the bot used (the picker's; the rules allowed
# 64, their columns' width), so that no check is looser than before.
SLACK_ID_LENGTH = 41
_SLACK_REST = f"[A-Z0-9]{{1,{SLACK_ID_LENGTH - 1}}}"
# Public (C) and private (G) channels and direct messages (D): what a rule or a share names.
SLACK_CHANNEL_ID = re.compile(f"[CGD]{_SLACK_REST}")
# Members (U) and Enterprise Grid users (W).
SLACK_USER_ID = re.compile(f"[UW]{_SLACK_REST}")
SLACK_USER_GROUP_ID = re.compile(f"S{_SLACK_REST}")
SLACK_TEAM_ID = re.compile(f"T{_SLACK_REST}")
SLACK_VIEW_ID = re.compile(f"V{_SLACK_REST}")

# What a CAMS ID from a payload, a link or the settings may look like: never more than this
# reaches CAMS, and it fits the store's 64-character columns.
_CAMS_ID = "[A-Za-z0-9_-]{1,64}"
FLOW_ID = re.compile(_CAMS_ID)
SPACE_ID = re.compile(_CAMS_ID)
# The flow ID in a Meta flow link, `…/flows/<id>/…`.
FLOW_LINK_ID = re.compile(rf"/flows/({_CAMS_ID})(?=[/?#|>\s]|$)")

# CAMS's flow IDs are 16 digits; a run of 10-20 is taken as one. ASCII digits only: Python's
# \d also takes other scripts' digits, which no CAMS ID holds.
_FLOW_DIGITS = "[0-9]{10,20}"
# A flow ID as a person types it: any other word is part of a name.
TYPED_FLOW_ID = re.compile(_FLOW_DIGITS)
# A typed flow ID standing on its own in a message: not inside a word or a number like 1.5.
BARE_FLOW_ID = re.compile(rf"(?<!\w)(?<!\d\.)({_FLOW_DIGITS})(?!\w|\.\d)")


def is_flow_id(text: str) -> bool:
    """Whether `text`, exactly as given, has the shape of a typed CAMS flow ID."""
    return TYPED_FLOW_ID.fullmatch(text) is not None


def space_key(space_id: str) -> str:
    """What `space_id` looks like once case and '_' versus '-' are set aside.

    Only for telling look-alikes apart, never for naming a space: CAMS's API reference writes
    CustSpaceIds with capitals (`C29393993****`), the emulator matches them exactly, and nothing
    says CAMS takes two spellings for one space. Folding could name another space, and letting
    both in lets `CAMS-ACME` slip past rules on `cams-acme` if CAMS does fold. So an ID is kept
    exactly as written, and one that differs from a known space only in these ways is refused.
    """
    return space_id.lower().replace("_", "-")
