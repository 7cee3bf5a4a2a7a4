"""Reading a raw CAMS answer: its action's result, or a CamsError."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from bot.cams.errors import CamsError, ErrorKind, classify
from bot.cams.models import FlowDetails, FlowPage, FlowPreview, FlowStatus, FlowSummary

MAX_TEXT = 500
# Flow IDs are 15-20 digits; a listed one must also pass as the next call's parameter.
MAX_FLOW_ID_LENGTH = 1024
MAX_URL_LENGTH = 8192
# datetime cannot represent instants past year 9999; anything that far out is garbage anyway.
MAX_EXPIRES_MS = 253_402_300_799_000
# CAMS asks for pauses of a few seconds; a longer hint is garbage, not a plan.
MAX_RETRY_AFTER_S = 3600.0
_STATUSES = frozenset(status.value for status in FlowStatus)
# A status as CAMS writes them, known or not: anything else is not kept (it is shown to people).
STATUS_TEXT = re.compile(r"[A-Z][A-Z0-9_]{0,31}")


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


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer (HTTP 200 with Code "OK"): its Data, still unread, and its RequestId."""

    data: object
    request_id: str


def read_answer(status: int, headers: Mapping[str, str], body: bytes) -> Answer:
    """The Answer of HTTP 200 with Code "OK"; otherwise raise CamsError, classified."""
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
        return Answer(document.get("Data"), request_id or "")
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


def preview(flow_id: str, answer: Answer) -> FlowPreview:
    """GetFlowPreviewUrl's Data as the FlowPreview of `flow_id`, or MALFORMED_RESPONSE."""
    data = answer.data
    if not isinstance(data, dict):
        raise _malformed(answer, "Data is missing")
    _check_flow_id(flow_id, data, answer)
    url = data.get("PreviewUrl")
    if not isinstance(url, str) or not _is_https_url(url):
        raise _malformed(answer, "Data.PreviewUrl is not an https URL")
    expires = data.get("PreviewUrlExpires")
    if isinstance(expires, str) and expires.isdigit() and len(expires) <= 16:
        expires = int(expires)
    if (
        isinstance(expires, bool)
        or not isinstance(expires, int)
        or not 0 < expires <= MAX_EXPIRES_MS
    ):
        raise _malformed(answer, "Data.PreviewUrlExpires is not epoch milliseconds")
    return FlowPreview(
        flow_id=flow_id,
        preview_url=url,
        expires_at=datetime.fromtimestamp(expires / 1000, tz=UTC),
        request_id=answer.request_id,
    )


def flow_page(answer: Answer, size: int) -> FlowPage:
    """ListFlow's Data, an array of at most `size` flows, as a FlowPage; or MALFORMED_RESPONSE.

    Every entry must be sound: one that is not would otherwise vanish from the catalog
    unnoticed. CAMS may leave out an empty list, so no Data at all is an empty page.
    """
    data = answer.data
    if data is None:
        return FlowPage((), answer.request_id)
    if not isinstance(data, list):
        raise _malformed(answer, "Data is not an array of flows")
    if len(data) > size:
        raise _malformed(answer, f"Data holds {len(data)} flows, more than the {size} asked for")
    flows = []
    for position, entry in enumerate(data):
        where = f"Data[{position}]"
        if not isinstance(entry, dict):
            raise _malformed(answer, f"{where} is not an object")
        flows.append(
            FlowSummary(
                flow_id=_flow_id(entry.get("FlowId"), where, answer),
                name=_name(entry.get("FlowName"), where, answer),
                categories=_categories(entry.get("Categories"), where, answer),
            )
        )
    return FlowPage(tuple(flows), answer.request_id)


def flow_details(flow_id: str, answer: Answer) -> FlowDetails:
    """GetFlow's Data as the FlowDetails of `flow_id`, or MALFORMED_RESPONSE.

    A Status this bot does not know becomes None: the name is still worth showing.
    """
    data = answer.data
    if not isinstance(data, dict):
        raise _malformed(answer, "Data is missing")
    _check_flow_id(flow_id, data, answer)
    status = data.get("Status")
    return FlowDetails(
        flow_id=flow_id,
        name=_name(data.get("FlowName"), "Data", answer),
        status=FlowStatus(status) if isinstance(status, str) and status in _STATUSES else None,
        categories=_categories(data.get("Categories"), "Data", answer),
        request_id=answer.request_id,
        status_text=status if isinstance(status, str) and STATUS_TEXT.fullmatch(status) else None,
    )


def _malformed(answer: Answer, problem: str) -> CamsError:
    return CamsError(
        ErrorKind.MALFORMED_RESPONSE,
        problem,
        code="OK",
        request_id=answer.request_id,
        http_status=200,
    )


def _check_flow_id(flow_id: str, data: dict[str, Any], answer: Answer) -> None:
    """An answer about another flow than the one asked for is not an answer."""
    answered_id = data.get("FlowId", flow_id)
    if str(answered_id) != flow_id:
        raise _malformed(
            answer, f"Data.FlowId {clean_text(answered_id)!r} is not the flow asked for"
        )


def _flow_id(value: object, where: str, answer: Answer) -> str:
    """A listed flow's ID as text, usable as a parameter of the next call as it stands."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_FLOW_ID_LENGTH
        or not value.isprintable()
    ):
        raise _malformed(answer, f"{where}.FlowId is not a flow ID")
    return value


def _name(value: object, where: str, answer: Answer) -> str:
    # A flow without a name is still a flow: refusing it would refuse its whole page, and the
    # catalog of its space with it. It is listed and shown by its ID.
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _malformed(answer, f"{where}.FlowName is not text")
    # Stripped: a name of blanks is no name, and is shown as none everywhere.
    return clean_text(value).strip()


def _categories(value: object, where: str, answer: Answer) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _malformed(answer, f"{where}.Categories is not a list of names")
    return tuple(clean_text(item) for item in value)


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


def _is_https_url(value: str) -> bool:
    if len(value) > MAX_URL_LENGTH or not value.isprintable() or " " in value:
        return False
    try:
        url = URL(value)
    except ValueError:
        return False
    return url.scheme == "https" and bool(url.host)
