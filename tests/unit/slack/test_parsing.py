"""Reading flow IDs from command text and from messages."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.slack.parsing import (
    MAX_FLOWS,
    FlowLink,
    PreviewRequest,
    SearchRequest,
    UsageRequest,
    extract_flow_ids,
    flow_link,
    may_hold_a_link,
    parse_command,
)
from tests.support import DATA

PAYLOADS = DATA / "slack-payloads"

# Twelve digits as other scripts write them (U+FF10.. and U+0660..): \d matches them.
FULL_WIDTH_DIGITS = "".join(chr(0xFF10 + int(d)) for d in "123456789012")
ARABIC_INDIC_DIGITS = "".join(chr(0x0660 + int(d)) for d in "123456789012")


@pytest.mark.parametrize("text", ["", "   ", "help", "HELP", "--help", "-h", "?", "123 help"])
def test_usage_without_a_problem(text: str) -> None:
    assert parse_command(text) == UsageRequest()


ID_A, ID_B = "1234567890", "98765432109876543210"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234567890123456", PreviewRequest(("1234567890123456",))),
        (f"{ID_A}, {ID_B},{ID_A}", PreviewRequest((ID_A, ID_B))),
        (f"{ID_B} {ID_B} {ID_A} {ID_B}", PreviewRequest((ID_B, ID_A))),
        (f"{ID_A} space:cams-x_1", PreviewRequest((ID_A,), "cams-x_1")),
        (f"SPACE:s {ID_A}", PreviewRequest((ID_A,), "s")),
    ],
)
def test_flow_ids_and_space(text: str, expected: PreviewRequest) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sign up", SearchRequest("sign up")),
        ("Sign-up v3 space:cams-acme", SearchRequest("Sign-up v3", "cams-acme")),
        ("space:cams-acme  café   loyalty", SearchRequest("café loyalty", "cams-acme")),
        # Short digit runs are part of a name; only 10-20 digits are an ID.
        ("survey 2024", SearchRequest("survey 2024")),
        ("123456789", SearchRequest("123456789")),
        ("123456789012345678901", SearchRequest("123456789012345678901")),
        # Digits of other scripts are never an ID: no CAMS ID holds them.
        (FULL_WIDTH_DIGITS, SearchRequest(FULL_WIDTH_DIGITS)),
        (ARABIC_INDIC_DIGITS, SearchRequest(ARABIC_INDIC_DIGITS)),
        ("&lt;script&gt;", SearchRequest("<script>")),
        ("*bold*", SearchRequest("*bold*")),
        ("x" * 100, SearchRequest("x" * 100)),
    ],
)
def test_other_words_are_a_search_by_name(text: str, expected: SearchRequest) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize(
    ("text", "problem", "token"),
    [
        (f"{ID_A} sign up", "not both", "sign up"),
        ("x" * 101, "at most 100 characters", None),
        (f"{ID_A} space:", "space: needs a space ID", None),
        (f"{ID_A} space:a/b", "is not a space ID", "a/b"),
        (f"{ID_A} space:a space:b", "give space: only once", None),
        ("space:a", "no flow ID or name given", None),
        (" ".join(str(10**12 + i) for i in range(11)), f"at most {MAX_FLOWS} flow IDs", None),
        ("https://example.com/1234", "is not a flow link", "https://example.com/1234"),
    ],
)
def test_unreadable_text_gets_usage_with_the_problem(
    text: str, problem: str, token: str | None
) -> None:
    result = parse_command(text)
    assert isinstance(result, UsageRequest)
    assert result.problem is not None
    assert problem in result.problem
    assert result.token == token


@pytest.mark.parametrize(
    "text",
    [
        "https://business.facebook.com/wa/manage/flows/1234567890123456/preview/?token=abc",
        "<https://business.facebook.com/wa/manage/flows/1234567890123456/preview/>",
        "<https://business.facebook.com/wa/manage/flows/1234567890123456/|the sign-up flow>",
        "https://business.facebook.com/wa/manage/flows/1234567890123456/preview/?a=1&amp;b=2",
        "1234567890123456 https://business.facebook.com/wa/manage/flows/1234567890123456",
    ],
)
def test_a_flow_link_stands_for_its_id(text: str) -> None:
    assert parse_command(text) == PreviewRequest(("1234567890123456",))


def test_a_long_bad_token_is_clipped_in_the_problem() -> None:
    result = parse_command(f"{ID_A} " + "<" * 500)
    assert isinstance(result, UsageRequest)
    assert result.token is not None
    assert len(result.token) <= 64


@given(st.text(max_size=300))
def test_any_text_parses_to_something_safe(text: str) -> None:
    result = parse_command(text)
    if isinstance(result, PreviewRequest):
        assert 1 <= len(result.flow_ids) <= MAX_FLOWS
        assert len(set(result.flow_ids)) == len(result.flow_ids)
    if isinstance(result, SearchRequest):
        assert 0 < len(result.words) <= 100
        assert result.words == result.words.strip()


def test_the_reference_shortcut_message() -> None:
    payload = json.loads((PAYLOADS / "message-shortcut.json").read_text(encoding="utf-8"))
    assert extract_flow_ids(payload["message"]) == ["1234567890123456", "9876543210987654"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            {"text": "flows 1234567890 and 12345678901234567890"},
            ["1234567890", "12345678901234567890"],
        ),
        ({"text": "too short 123456789, too long 123456789012345678901"}, []),
        ({"text": "a version 1581106200.000100 or 3.1415926535897"}, []),
        (
            {"text": "<https://business.facebook.com/wa/manage/flows/42/preview/?token=a&amp;b=1>"},
            ["42"],
        ),
        ({"text": "<https://x.test/flows/abc_1|label> and <@U12345678901>"}, ["abc_1"]),
        ({"text": "ID&gt;1234567890123&lt;end"}, ["1234567890123"]),
        ({"attachments": [{"fallback": "flow 5555555555", "ts": "1581106200"}]}, ["5555555555"]),
        ({"attachments": [{"fields": [{"title": "id", "value": "6666666666"}]}]}, ["6666666666"]),
        ({"blocks": [{"type": "section", "block_id": "1234567890123", "text": {"text": "x"}}]}, []),
        ({"ts": "1581106200.000100", "user": "U1234567890", "text": "none here"}, []),
        ({"text": "due <!date^1798093641^{date_short}|2026-12-24> for <@U1234567890123>"}, []),
        ({"text": "<#C1234567890|1234567890123>"}, ["1234567890123"]),
        ({"text": f"full-width {FULL_WIDTH_DIGITS} is no ID"}, []),
    ],
)
def test_ids_in_text_attachments_and_blocks(message: dict[str, Any], expected: list[str]) -> None:
    assert extract_flow_ids(message) == expected


def test_ids_are_deduplicated_in_order_and_capped() -> None:
    ids = [str(10**12 + i) for i in range(15)]
    message = {"text": " ".join([ids[1], ids[0], ids[1], *ids])}
    found = extract_flow_ids(message)
    assert found[:2] == [ids[1], ids[0]]
    assert len(found) == MAX_FLOWS
    assert len(set(found)) == MAX_FLOWS


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/", False),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456", False),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/preview/", False),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/?lang=en", False),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/preview/?token=t", True),
        # Every spelling of a token counts, and a preview page with any query: failing closed.
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/?token=", True),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/preview/?x=1", True),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/?l=en&amp;token=t", True),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/?Token=t", True),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/?x=1;token=t", True),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/#token=t", True),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/?token%3Dt", True),
        ("https://business.facebook.com/wa/manage/flows/1234567890123456/?%74oken=t", True),
    ],
)
def test_a_flow_link_names_its_flow_and_whether_it_carries_a_token(
    url: str, expected: bool
) -> None:
    assert flow_link(url) == FlowLink("1234567890123456", has_token=expected)


@pytest.mark.parametrize(
    "url",
    [
        "https://business.facebook.com/latest/inbox",
        "https://business.facebook.com/wa/manage/message-templates/",
        "https://business.facebook.com/wa/manage/flows/",
        "https://business.facebook.com/wa/manage/flows/../../etc/",
        "http://business.facebook.com/wa/manage/flows/1234567890123456/",
        "https://business.facebook.com.evil.example/wa/manage/flows/1234567890123456/",
        "https://evil.example/wa/manage/flows/1234567890123456/",
        "https://[::1/wa/manage/flows/1234567890123456/",
        "https://business.facebook.com/wa/manage/flows/" + "1" * 5000 + "/",
    ],
)
def test_other_links_name_no_flow(url: str) -> None:
    assert flow_link(url) is None


@pytest.mark.parametrize(
    ("text", "held"),
    [
        ("sign up", False),
        ("Appointment booking 2", False),
        ("https://business.facebook.com/wa/manage/flows/1/preview/?token=t", True),
        ("HTTP://example", True),
        ("www.example.com/x", True),
        ("my TOKEN=abc", True),
    ],
)
def test_typed_text_that_may_hold_a_link_is_told_apart(text: str, held: bool) -> None:
    assert may_hold_a_link(text) is held
