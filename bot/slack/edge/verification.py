"""Slack's v0 request signature, checked on the raw bytes before anything reads them.

`v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<raw body>`, keyed with the app's signing secret;
a timestamp more than five minutes from now is refused, so a captured request cannot be
replayed later. Headers are checked first, so an unsigned or stale request is refused before
its body is even read.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable

from bot.config import Secret

WINDOW_S = 300
# Slack sends whole seconds since the epoch and a lower-case hex digest; nothing else is read.
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
# Reasons others tell apart (the metrics count them apart from forgeries).
UNSIGNED = "unsigned request"
STALE = "stale X-Slack-Request-Timestamp"


class SignatureCheck:
    """Checks requests against one signing secret, on an injectable wall clock."""

    def __init__(self, secret: Secret, *, clock: Callable[[], float] = time.time) -> None:
        self._key = secret.reveal().encode("utf-8")
        self._clock = clock

    def header_problem(self, timestamp: str | None, signature: str | None) -> str | None:
        """Why the signature headers alone refuse the request, or None when they may pass."""
        if timestamp is None or signature is None:
            return UNSIGNED
        if not TIMESTAMP.fullmatch(timestamp):
            return "malformed X-Slack-Request-Timestamp"
        if abs(self._clock() - int(timestamp)) > WINDOW_S:
            return STALE
        if not SIGNATURE.fullmatch(signature):
            return "malformed X-Slack-Signature"
        return None

    def matches(self, timestamp: str, signature: str, body: bytes) -> bool:
        """Whether `signature` is this secret's for `timestamp` and the raw `body`."""
        base = b"v0:" + timestamp.encode("ascii") + b":" + body
        expected = "v0=" + hmac.new(self._key, base, hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii"))
