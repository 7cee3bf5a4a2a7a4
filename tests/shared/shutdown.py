"""What the shutdown tests, in-process and of `serve`, look for in replies."""

from __future__ import annotations

import json
from typing import Any

# A flow the tests make CAMS slow to answer, so that its reply is still owed at shutdown.
SLOW = "5555555555555555"
# Words of the apology for a reply still owed when the bot stops.
RESTARTED = "restarted before your preview was ready"


def message_text(message: dict[str, Any] | None) -> str:
    """A reply's message as one string, to look for words in."""
    return json.dumps(message)
