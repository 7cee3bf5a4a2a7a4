"""What a CAMS flow ID looks like, for every way a person names one: Slack or the command line."""

from __future__ import annotations

import re

# CAMS's flow IDs are 16 digits; a run of 10-20 is taken as one. ASCII digits only: Python's
# \d also takes other scripts' digits, which no CAMS ID holds.
FLOW_ID_SHAPE = re.compile(r"[0-9]{10,20}")


def is_flow_id(text: str) -> bool:
    """Whether `text`, exactly as given, has the shape of a CAMS flow ID."""
    return FLOW_ID_SHAPE.fullmatch(text) is not None
