"""Turning a raw GetFlowPreviewUrl answer into a FlowPreview or a CamsError."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from bot.cams.errors import CamsError, ErrorKind, classify
from bot.cams.models import FlowPreview

MAX_TEXT = 500
MAX_URL_LENGTH = 8192
# datetime cannot represent instants past year 9999; anything that far out is garbage anyway.
MAX_EXPIRES_MS = 253_402_300_799_000
# CAMS asks for pauses of a few seconds; a longer hint is garbage, not a plan.
MAX_RETRY_AFTER_S = 3600.0


def clean_text(value: object) -> str:
    """Upstream text made safe for a log line: printable, one line, bounded."""
    text = "".join(ch if ch.isprintable() else " " for ch in str(value))
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """`x-acs-retry-after` (milliseconds) as seconds, clamped to [0, MAX_RETRY_AFTER_S].

    None when absent or not a number (NaN included); an infinite or huge value is clamped,
    so one odd header cannot hold anything back for longer than that.
    """
    raw = headers.get("x-acs-retry-after")
    if raw is None:
        return None
    try:
        millis = float(raw)
    except ValueError:
        return None
    if math.isnan(millis):
        return None
    return min(max(0.0, millis / 1000.0), MAX_RETRY_AFTER_S)


def interpret(flow_id: str, status: int, headers: Mapping[str, str], body: bytes) -> FlowPreview:
    """A FlowPreview for HTTP 200 with Code "OK" and a sound Data; otherwise raise CamsError."""
    header_request_id = headers.get("x-acs-request-id")
    document = _json_object(body)
    if document is None:
        # A gateway's or proxy's error page: its status says what happened. Only a success
        # that is not JSON is an answer the bot cannot use.
        kind = classify(status, None) if status >= 400 else ErrorKind.MALFORMED_RESPONSE
        raise CamsError(
            kind,
            f"HTTP {status} with an answer that is not a JSON object",
            request_id=header_request_id,
            http_status=status,
            retry_after=retry_after_seconds(headers),
        )
    request_id = _optional_text(document.get("RequestId")) or header_request_id
    code = _optional_text(document.get("Code"))
    if status == 200 and code == "OK":
        return _preview(flow_id, document.get("Data"), request_id or "")
    if code is None and status == 200:
        raise CamsError(
            ErrorKind.MALFORMED_RESPONSE,
            "the answer has no Code",
            request_id=request_id,
            http_status=status,
        )
    raise CamsError(
        classify(status, code),
        _optional_text(document.get("Message")) or f"HTTP {status}",
        code=code,
        request_id=request_id,
        http_status=status,
        access_denied_detail=_optional_text(document.get("AccessDeniedDetail")),
        retry_after=retry_after_seconds(headers),
    )


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _optional_text(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return clean_text(value)


def _preview(flow_id: str, data: object, request_id: str) -> FlowPreview:
    def malformed(problem: str) -> CamsError:
        return CamsError(
            ErrorKind.MALFORMED_RESPONSE, problem, code="OK", request_id=request_id, http_status=200
        )

    if not isinstance(data, dict):
        raise malformed("Data is missing")
    answered_id = data.get("FlowId", flow_id)
    if str(answered_id) != flow_id:
        raise malformed(f"Data.FlowId {clean_text(answered_id)!r} is not the flow asked for")
    url = data.get("PreviewUrl")
    if not isinstance(url, str) or not _is_https_url(url):
        raise malformed("Data.PreviewUrl is not an https URL")
    expires = data.get("PreviewUrlExpires")
    if isinstance(expires, str) and expires.isdigit() and len(expires) <= 16:
        expires = int(expires)
    if (
        isinstance(expires, bool)
        or not isinstance(expires, int)
        or not 0 < expires <= MAX_EXPIRES_MS
    ):
        raise malformed("Data.PreviewUrlExpires is not epoch milliseconds")
    return FlowPreview(
        flow_id=flow_id,
        preview_url=url,
        expires_at=datetime.fromtimestamp(expires / 1000, tz=UTC),
        request_id=request_id,
    )


def _is_https_url(value: str) -> bool:
    if len(value) > MAX_URL_LENGTH or not value.isprintable() or " " in value:
        return False
    try:
        url = URL(value)
    except ValueError:
        return False
    return url.scheme == "https" and bool(url.host)
