"""Reading CAMS answers: only a sound HTTP 200 with Code OK is a preview."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cams.errors import CamsError, ErrorKind
from bot.cams.response import MAX_RETRY_AFTER_S, interpret


def _body(**data: Any) -> bytes:
    payload = {"FlowId": "1", "PreviewUrl": "https://x.test/p", "PreviewUrlExpires": 1700617436633}
    payload.update(data)
    return json.dumps({"RequestId": "R", "Code": "OK", "Data": payload}).encode()


def test_expiry_is_epoch_milliseconds_in_utc() -> None:
    preview = interpret("1", 200, {}, _body())
    assert preview.expires_at == datetime(2023, 11, 22, 1, 43, 56, 633000, tzinfo=UTC)
    assert preview.request_id == "R"


@pytest.mark.parametrize(
    "body",
    [
        _body(PreviewUrl="http://x.test/p"),
        _body(PreviewUrl="javascript:alert(1)"),
        _body(PreviewUrl="https:///nohost"),
        _body(PreviewUrl="https://x.test/a b"),
        _body(PreviewUrl=None),
        _body(PreviewUrlExpires="soon"),
        _body(PreviewUrlExpires=True),
        _body(PreviewUrlExpires=-5),
        _body(PreviewUrlExpires=10**20),
        _body(FlowId="2"),
        json.dumps({"RequestId": "R", "Code": "OK"}).encode(),
        json.dumps({"RequestId": "R"}).encode(),
        b"[1, 2]",
        b"",
        b"[" * 100_000,
        _body(PreviewUrlExpires="9" * 5000),
    ],
)
def test_unsound_successes_are_malformed(body: bytes) -> None:
    with pytest.raises(CamsError) as caught:
        interpret("1", 200, {}, body)
    assert caught.value.kind is ErrorKind.MALFORMED_RESPONSE


def test_an_http_200_with_another_code_is_an_error() -> None:
    body = json.dumps({"RequestId": "R", "Code": "Ram.PermissionDeny", "Message": "no"}).encode()
    with pytest.raises(CamsError) as caught:
        interpret("1", 200, {}, body)
    assert caught.value.kind is ErrorKind.PERMISSION_DENIED
    assert caught.value.request_id == "R"


def test_upstream_text_is_bounded_and_single_line() -> None:
    body = json.dumps({"Code": "InvalidParameter", "Message": "bad\r\nline" + "x" * 5000}).encode()
    with pytest.raises(CamsError) as caught:
        interpret("1", 400, {"x-acs-request-id": "H"}, body)
    assert "\n" not in caught.value.message
    assert len(caught.value.message) <= 500
    assert caught.value.request_id == "H"


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1500", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("-inf", 0.0),
        ("soon", None),
        ("", None),
        ("0x10", None),
        ("nan", None),
        ("NaN", None),
        ("inf", MAX_RETRY_AFTER_S),
        ("600000", 600.0),
        ("1e300", MAX_RETRY_AFTER_S),
        ("9" * 400, MAX_RETRY_AFTER_S),
    ],
)
def test_retry_after_header_is_clamped(header: str, seconds: float | None) -> None:
    body = json.dumps({"Code": "Throttling.User", "Message": "slow down"}).encode()
    with pytest.raises(CamsError) as caught:
        interpret("1", 400, {"x-acs-retry-after": header}, body)
    assert caught.value.retry_after == seconds


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, ErrorKind.NOT_FOUND),
        (400, ErrorKind.BAD_REQUEST),
        (403, ErrorKind.BAD_REQUEST),
        (413, ErrorKind.BAD_REQUEST),
        (429, ErrorKind.THROTTLED),
        (502, ErrorKind.SERVER_ERROR),
        (503, ErrorKind.SERVER_ERROR),
        (200, ErrorKind.MALFORMED_RESPONSE),
        (204, ErrorKind.MALFORMED_RESPONSE),
        (302, ErrorKind.MALFORMED_RESPONSE),
    ],
)
def test_a_non_json_answer_is_classified_by_its_status(status: int, kind: ErrorKind) -> None:
    with pytest.raises(CamsError) as caught:
        interpret("1", status, {}, b"<html><body>Not Found</body></html>")
    assert caught.value.kind is kind
    assert caught.value.http_status == status
    assert f"HTTP {status}" in caught.value.message
