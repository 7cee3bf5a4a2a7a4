"""Rendering: one sentence per error kind, escaping, and Block Kit limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowDetails, FlowPreview, FlowStatus, FlowSummary
from bot.preview.errors import BusyError
from bot.preview.service import Outcome
from bot.slack.blocks import messages
from bot.slack.constants import OPEN_ACTION_ID, SHARE_ACTION_ID
from bot.slack.parsing import MAX_FLOWS

NOW = 1_800_000_000.0
EXPIRES = datetime.fromtimestamp(NOW + 30 * 86400, UTC)


def _preview(flow_id: str = "1234567890123456", url: str | None = None) -> FlowPreview:
    url = url or f"https://business.facebook.com/wa/manage/flows/{flow_id}/preview/?token=t"
    return FlowPreview(flow_id, url, EXPIRES, "REQ-1")


def _rebuild(message: dict[str, Any]) -> None:
    """Parse the blocks back through slack_sdk's models, which enforce Slack's limits."""
    assert len(message["blocks"]) <= 50
    for block in Block.parse_all(message["blocks"]):
        block.to_dict()


def _texts(message: dict[str, Any]) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def test_a_preview_has_its_id_buttons_and_expiry_in_the_viewers_zone() -> None:
    message = messages.preview_message([("1234567890123456", _preview())], None, NOW)
    _rebuild(message)

    assert message["response_type"] == "ephemeral"
    section, actions = message["blocks"][0], message["blocks"][1]
    epoch = int(EXPIRES.timestamp())
    assert "`1234567890123456`" in section["text"]["text"]
    assert f"<!date^{epoch}^{{date_short_pretty}} at {{time}}|" in section["text"]["text"]
    assert EXPIRES.strftime("%Y-%m-%d %H:%M UTC") in section["text"]["text"]
    assert "30 days left" in section["text"]["text"]
    open_button, share_button = actions["elements"]
    assert open_button["action_id"] == OPEN_ACTION_ID
    assert open_button["url"].startswith("https://")
    assert share_button["action_id"] == SHARE_ACTION_ID
    assert json.loads(share_button["value"]) == {"flow": "1234567890123456", "space": None}


def test_ten_flows_with_long_ids_and_a_space_fit_in_one_message() -> None:
    ids = [f"{i}" * 64 for i in range(MAX_FLOWS)]
    url = "https://x.test/" + "p" * 2900
    outcomes: list[tuple[str, Outcome]] = [(i, _preview(i, url)) for i in ids]
    message = messages.preview_message(outcomes, "s" * 64, NOW)
    _rebuild(message)
    assert len(message["blocks"]) == 2 * MAX_FLOWS + 1


def test_an_over_long_link_gets_no_button() -> None:
    message = messages.preview_message(
        [("1", _preview("1", "https://x.test/" + "p" * 3000))], None, NOW
    )
    _rebuild(message)
    assert "too long" in _texts(message)
    assert OPEN_ACTION_ID not in _texts(message)


def test_block_kit_models_refuse_what_slack_would() -> None:
    with pytest.raises(SlackObjectFormationError):
        _rebuild({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}]})


def _error(kind: ErrorKind, **kwargs: Any) -> CamsError:
    return CamsError(kind, kwargs.pop("message", "upstream says no"), request_id="REQ-9", **kwargs)


@pytest.mark.parametrize(
    ("failure", "phrase"),
    [
        (_error(ErrorKind.PERMISSION_DENIED), "`cams:GetFlowPreviewUrl`"),
        (_error(ErrorKind.NOT_SUBSCRIBED), "not activated"),
        (_error(ErrorKind.WRONG_OWNER), "different Alibaba Cloud account"),
        (_error(ErrorKind.NOT_FOUND), "no such flow"),
        (_error(ErrorKind.BAD_REQUEST), "did not accept the request: `upstream says no`"),
        (_error(ErrorKind.AUTH_FAILED), "rejected the bot's Alibaba Cloud credentials"),
        (_error(ErrorKind.THROTTLED, retry_after=7.2), "Try again in 8 seconds"),
        (_error(ErrorKind.THROTTLED), "Try again in a few seconds"),
        (_error(ErrorKind.SERVER_ERROR), "CAMS is having trouble"),
        (_error(ErrorKind.NETWORK), "cannot reach CAMS"),
        (_error(ErrorKind.MALFORMED_RESPONSE), "cannot use"),
        (BusyError(12.5), "Try again in 13 seconds"),
    ],
)
def test_one_sentence_per_error_kind(failure: CamsError | BusyError, phrase: str) -> None:
    sentence = messages.error_sentence(failure)
    assert phrase in sentence
    if isinstance(failure, CamsError):
        assert "(RequestId `REQ-9`)" in sentence
    message = messages.preview_message([("1", failure)], None, NOW)
    _rebuild(message)
    assert "Traceback" not in _texts(message)


def test_every_error_kind_has_its_own_sentence() -> None:
    sentences = {messages.SENTENCES[kind] for kind in ErrorKind}
    assert len(sentences) == len(ErrorKind)


def test_upstream_and_user_text_is_escaped() -> None:
    failure = _error(ErrorKind.BAD_REQUEST, message="<!channel> & <https://evil.test|click>")
    sentence = messages.error_sentence(failure)
    assert "<!channel>" not in sentence
    assert "&lt;!channel&gt; &amp; &lt;https://evil.test|click&gt;" in sentence
    usage = messages.usage_message("'<@U1>' is not a flow ID")
    assert "&lt;@U1&gt;" in _texts(usage)
    assert "<@U1>" not in _texts(usage)


def test_usage_documents_the_syntax() -> None:
    message = messages.usage_message()
    _rebuild(message)
    text = _texts(message)
    assert "/flowpreview &lt;flow-id or name&gt; [space:&lt;CustSpaceId&gt;]" in text
    assert "/flowpreview sign up" in text
    assert "Get flow preview" in text


@pytest.mark.parametrize(
    ("seconds", "left"),
    [
        (86400 * 2 + 5, "2 days left"),
        (3600, "1 hour left"),
        (150, "2 minutes left"),
        (30, "less than a minute left"),
        (-1, "expired"),
    ],
)
def test_time_left(seconds: float, left: str) -> None:
    preview = FlowPreview("1", "https://x.test", datetime.fromtimestamp(NOW + seconds, UTC), "R")
    assert left in _texts(messages.preview_message([("1", preview)], None, NOW))


def test_ten_worst_case_error_sentences_fit_in_their_sections() -> None:
    failure = _error(ErrorKind.BAD_REQUEST, message="&" * 5000)
    failure.request_id = "<" * 5000
    outcomes: list[tuple[str, Outcome]] = [(str(i) * 64, failure) for i in range(MAX_FLOWS)]
    _rebuild(messages.preview_message(outcomes, None, NOW))


def test_a_flow_without_a_name_still_shows_its_status() -> None:
    draft = FlowDetails("1234567890123456", "", FlowStatus.DRAFT, (), "R")

    title = messages.flow_title(draft.flow_id, draft)

    assert title.startswith("*Flow `1234567890123456`*")
    assert messages.STATUS_WORDS[FlowStatus.DRAFT] in title


def test_a_match_without_a_name_is_listed_as_such() -> None:
    unnamed = FlowSummary("1234567890123456", "", ())
    named = FlowSummary("1234567890123457", "Sign-up", ())

    message = messages.matches_message("sign", "cams-demo", [unnamed, named], {})

    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "(no name) · `1234567890123456`" in text
    assert "(nothing)" not in text
    assert message["text"].endswith("(no name), Sign-up")


@pytest.mark.parametrize("status", list(FlowStatus))
def test_every_status_has_plain_words(status: FlowStatus) -> None:
    about = FlowDetails("1234567890123456", "Sign up", status, (), "R")
    title = messages.flow_title("1234567890123456", about)
    assert messages.STATUS_WORDS[status] in title
