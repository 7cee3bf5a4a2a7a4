"""Slack's v0 request signature, computed on the sending side (Slack's side of the wire)."""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Slack-Request-Timestamp"
SIGNATURE_HEADER = "X-Slack-Signature"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
JSON_CONTENT_TYPE = "application/json"


def signature(secret: str, timestamp: int | str, body: bytes | str) -> str:
    """`v0=` and the hex HMAC-SHA256, keyed with `secret`, of `v0:<timestamp>:<raw body>`."""
    raw = body.encode() if isinstance(body, str) else body
    base = b"v0:" + str(timestamp).encode() + b":" + raw
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with `body`: timestamp (now unless given), signature, Content-Type.

    The Content-Type follows the body: Slack sends interactions and slash commands as forms and
    only Events API callbacks as JSON.
    """
    ts = int(time.time()) if timestamp is None else timestamp
    content_type = JSON_CONTENT_TYPE if body.lstrip().startswith(b"{") else FORM_CONTENT_TYPE
    return {
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: signature(secret, ts, body),
        "Content-Type": content_type,
    }
