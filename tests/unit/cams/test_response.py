"""Reading CAMS answers: only a sound HTTP 200 with Code OK is a preview, a page of flows or a
flow's details."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowDetails, FlowPage, FlowPreview, FlowStatus, FlowSummary
from bot.cams.response import MAX_RETRY_AFTER_S, flow_details, flow_page, preview, read_answer


def interpret(flow_id: str, status: int, headers: dict[str, str], body: bytes) -> FlowPreview:
    """A GetFlowPreviewUrl answer read as the client reads it."""
    return preview(flow_id, read_answer(status, headers, body))


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


def _answer(data: Any) -> bytes:
    return json.dumps({"RequestId": "R", "Code": "OK", "Data": data}).encode()


def _page(body: bytes, size: int = 100) -> FlowPage:
    return flow_page(read_answer(200, {}, body), size)


def _details(body: bytes, flow_id: str = "926753328126431") -> FlowDetails:
    return flow_details(flow_id, read_answer(200, {}, body))


def test_a_page_of_flows() -> None:
    page = _page(
        _answer(
            [
                {"FlowId": "926753328126431", "FlowName": "Café loyalty", "Categories": ["SURVEY"]},
                {"FlowId": 926753328126432, "FlowName": "Sign-up v3", "Categories": []},
                {"FlowId": "926753328126433", "FlowName": ""},
            ]
        )
    )

    assert page.request_id == "R"
    assert page.flows == (
        FlowSummary("926753328126431", "Café loyalty", ("SURVEY",)),
        FlowSummary("926753328126432", "Sign-up v3", ()),
        FlowSummary("926753328126433", "", ()),
    )


@pytest.mark.parametrize(
    "body",
    [_answer([]), _answer(None), json.dumps({"RequestId": "R", "Code": "OK"}).encode()],
)
def test_an_empty_or_absent_list_is_an_empty_page(body: bytes) -> None:
    assert _page(body) == FlowPage((), "R")


def test_listed_text_is_bounded_and_single_line() -> None:
    (flow,) = _page(
        _answer([{"FlowId": "1", "FlowName": "a\r\nb" + "x" * 5000, "Categories": ["S\tX"]}])
    ).flows
    assert flow.name.startswith("a  b")
    assert len(flow.name) <= 500
    assert flow.categories == ("S X",)


ENTRY = {"FlowId": "1", "FlowName": "n", "Categories": ["OTHER"]}


def test_a_flow_without_a_name_is_listed_unnamed_not_refused_with_its_page() -> None:
    blank = {"FlowId": "4", "FlowName": " \t "}
    entries = [ENTRY, {"FlowId": "2"}, {"FlowId": "3", "FlowName": None}, blank]
    page = _page(_answer(entries), size=4)

    assert [(flow.flow_id, flow.name) for flow in page.flows] == [
        ("1", "n"),
        ("2", ""),
        ("3", ""),
        ("4", ""),
    ]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"FlowId": "1"}, "Data is not an array"),
        ("flows", "Data is not an array"),
        ([ENTRY, "2"], "Data[1] is not an object"),
        ([ENTRY | {"FlowId": None}], "Data[0].FlowId"),
        ([{"FlowName": "n"}], "Data[0].FlowId"),
        ([ENTRY | {"FlowId": True}], "Data[0].FlowId"),
        ([ENTRY | {"FlowId": ""}], "Data[0].FlowId"),
        ([ENTRY | {"FlowId": "12\n34"}], "Data[0].FlowId"),
        ([ENTRY | {"FlowId": "1" * 1025}], "Data[0].FlowId"),
        ([ENTRY | {"FlowId": 1.5}], "Data[0].FlowId"),
        ([ENTRY | {"FlowName": 7}], "Data[0].FlowName"),
        ([ENTRY | {"Categories": "SURVEY"}], "Data[0].Categories"),
        ([ENTRY | {"Categories": ["SURVEY", 3]}], "Data[0].Categories"),
        ([ENTRY] * 3, "more than the 2 asked for"),
    ],
)
def test_an_unsound_page_is_malformed_whole(data: Any, problem: str) -> None:
    with pytest.raises(CamsError) as caught:
        _page(_answer(data), size=2)
    assert caught.value.kind is ErrorKind.MALFORMED_RESPONSE
    assert problem in caught.value.message
    assert caught.value.request_id == "R"


def test_an_http_200_list_with_another_code_is_an_error() -> None:
    body = json.dumps({"RequestId": "R", "Code": "Ram.PermissionDeny", "Data": []}).encode()
    with pytest.raises(CamsError) as caught:
        _page(body)
    assert caught.value.kind is ErrorKind.PERMISSION_DENIED


DETAILS = {
    "FlowId": "926753328126431",
    "FlowName": "Appointment booking \u2013 Dental",
    "Status": "DRAFT",
    "Categories": ["APPOINTMENT_BOOKING"],
    "JSONVersion": "6.1",
    "PreviewUrl": "https://business.facebook.com/wa/manage/flows/1/preview/?token=t",
}


def test_a_flows_details() -> None:
    details = _details(_answer(DETAILS))
    assert details == FlowDetails(
        "926753328126431",
        "Appointment booking \u2013 Dental",
        FlowStatus.DRAFT,
        ("APPOINTMENT_BOOKING",),
        "R",
        "DRAFT",
    )


@pytest.mark.parametrize("status", ["ARCHIVED", "published", "", None, 3, ["DRAFT"], {"a": 1}])
def test_a_status_this_bot_does_not_know_is_none(status: object) -> None:
    assert _details(_answer(DETAILS | {"Status": status})).status is None
    assert _details(_answer({k: v for k, v in DETAILS.items() if k != "Status"})).status is None


@pytest.mark.parametrize(
    ("status", "text"),
    [
        ("DRAFT", "DRAFT"),
        ("ARCHIVED", "ARCHIVED"),
        ("published", None),
        ("A" * 33, None),
        (3, None),
    ],
)
def test_the_status_as_sent_is_kept_when_it_looks_like_one(
    status: object, text: str | None
) -> None:
    assert _details(_answer(DETAILS | {"Status": status})).status_text == text


def test_details_without_a_name_keep_their_status() -> None:
    details = _details(_answer(DETAILS | {"FlowName": None}))

    assert (details.name, details.status) == ("", FlowStatus.DRAFT)


@pytest.mark.parametrize("status", list(FlowStatus))
def test_every_documented_status_is_known(status: FlowStatus) -> None:
    assert _details(_answer(DETAILS | {"Status": status.value})).status is status


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (None, "Data is missing"),
        ([DETAILS], "Data is missing"),
        (DETAILS | {"FlowId": "2"}, "is not the flow asked for"),
        (DETAILS | {"FlowName": 7}, "Data.FlowName"),
        (DETAILS | {"Categories": [None]}, "Data.Categories"),
    ],
)
def test_unsound_details_are_malformed(data: Any, problem: str) -> None:
    with pytest.raises(CamsError) as caught:
        _details(_answer(data))
    assert caught.value.kind is ErrorKind.MALFORMED_RESPONSE
    assert problem in caught.value.message


def test_details_of_a_numeric_flow_id_and_no_categories() -> None:
    data = {"FlowId": 926753328126431, "FlowName": "n", "Status": "PUBLISHED"}
    details = _details(_answer(data))
    assert (details.flow_id, details.categories) == ("926753328126431", ())
