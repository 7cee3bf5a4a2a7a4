"""Counting Slack requests by kind and outcome, and timing their acks, in both modes.

The kind comes from the body Bolt parsed (a dictionary look-up or two, nothing more); the
outcome is `ok`, `unhandled` (no listener took it), `error`, or the reason a request was
refused before anything parsed it. Label values come from these fixed sets only.
"""

from __future__ import annotations

import functools
import time

from bot.metrics import ACK_SECONDS, SLACK_REQUESTS, LoopCount, LoopTimes
from bot.slack.edge.intake import RefusedRequestError
from bot.slack.edge.verification import STALE, UNSIGNED

# A refusal's kind: the body was not read, or not trusted, so what it claims is not counted.
UNREAD = "other"
# Payload `type`s as Slack sends them, by the kind of request they are.
_KINDS = {
    "shortcut": "shortcut",
    "message_action": "shortcut",
    "block_actions": "action",
    "interactive_message": "action",
    "block_suggestion": "options",
    "dialog_suggestion": "options",
    "view_submission": "view",
    "view_closed": "view",
    "event_callback": "event",
}
_REFUSED_BY_STATUS = {401: "forged", 408: "too_slow", 413: "too_large"}
_REFUSED_BY_REASON = {UNSIGNED: "unsigned", STALE: "stale"}


def request_kind(body: object) -> str:
    """command, shortcut, action, options, view, ssl_check, event or other."""
    if not isinstance(body, dict):
        return UNREAD
    if "command" in body:
        return "command"
    if "ssl_check" in body:
        return "ssl_check"
    kind = body.get("type")
    return _KINDS.get(kind, UNREAD) if isinstance(kind, str) else UNREAD


def refused(refusal: RefusedRequestError) -> None:
    """Count a request refused before Bolt saw it: unsigned, stale, forged, too_large,
    too_slow or bad_shape."""
    outcome = _REFUSED_BY_REASON.get(refusal.reason) or _REFUSED_BY_STATUS.get(
        refusal.status, "bad_shape"
    )
    _requests(UNREAD, outcome).inc()


def answered(kind: str, status: int | None, arrived: float) -> None:
    """Count a request Bolt handled, answered with `status` (None: it raised), and time its
    ack from `arrived` (a `time.monotonic()` reading)."""
    if status is None or (status >= 400 and status != 404):
        outcome = "error"
    elif status == 404:
        outcome = "unhandled"
    else:
        outcome = "ok"
    _requests(kind, outcome).inc()
    _acks(kind).observe(time.monotonic() - arrived)


# Each request's series looked up once (kinds and outcomes are a few fixed words), not at
# every request: on the hot path that halves what counting costs.
@functools.cache
def _requests(kind: str, outcome: str) -> LoopCount:
    return SLACK_REQUESTS.labels(kind, outcome)


@functools.cache
def _acks(kind: str) -> LoopTimes:
    return ACK_SECONDS.labels(kind)
