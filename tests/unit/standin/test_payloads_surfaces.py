"""The payload builders of unfurls, the Home tab and workflow steps: Slack's shapes, and what
the bot's intake requires of every body."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from bot.slack.edge.intake import check_shape
from bot.standin.slack import payloads

URL = "https://flows.example.com/flow/1234567890123456"
TS = "1700000000.000100"

_Json = dict[str, Any]


def _form_payload(body: bytes) -> _Json:
    parsed: _Json = json.loads(parse_qs(body.decode())["payload"][0])
    return parsed


def test_event_bodies_have_what_intake_requires() -> None:
    execution = "Fx0123ABCDEF"
    events = [
        payloads.link_shared([URL]),
        payloads.link_shared([URL], source="composer", thread_ts=TS),
        payloads.app_home_opened(view={"id": "V1", "type": "home", "state": {"values": {}}}),
        payloads.function_executed(
            "send_preview", {"flow_id": "1"}, execution_id=execution, token="xwfp-1"
        ),
    ]
    for event in events:
        body = json.loads(payloads.event_callback(event))
        check_shape(body)
        assert body["type"] == "event_callback"
        assert body["event"]["event_ts"]
        assert body["authorizations"][0]["user_id"] == payloads.BOT_USER_ID
        assert body == {
            **payloads.event_envelope(event),
            "event_id": body["event_id"],
            "event_time": body["event_time"],
        }


def test_link_shared_ids_have_slacks_shapes() -> None:
    posted = payloads.link_shared([URL, "https://other.example.org/x"], message_ts=TS)
    composed = payloads.link_shared([URL], source="composer")

    assert posted["channel"] == payloads.DEFAULT_WHO.channel_id
    assert posted["message_ts"] == TS
    channel, seconds, micros, digest = posted["unfurl_id"].split(".")
    assert (channel, f"{seconds}.{micros}", len(digest)) == (posted["channel"], TS, 64)
    assert posted["links"] == [
        {"domain": "flows.example.com", "url": URL},
        {"domain": "other.example.org", "url": "https://other.example.org/x"},
    ]
    assert "thread_ts" not in posted
    assert composed["channel"] == payloads.COMPOSER
    assert composed["message_ts"] == composed["unfurl_id"]
    assert composed["unfurl_id"].startswith(payloads.DEFAULT_WHO.user_id + "-")


def test_form_payloads_have_what_intake_requires() -> None:
    home = {"id": "V1", "type": "home", "blocks": [], "state": {"values": {}}}
    button = {
        "type": "button",
        "action_id": "open",
        "text": {"type": "plain_text", "text": "Open"},
        "value": "1",
    }
    bodies = [
        payloads.unfurl_block_actions(
            button, block_id="b", response_url="http://127.0.0.1/r/1", message_ts=TS, url=URL
        ),
        payloads.home_block_actions({**button, "block_id": "b"}, view=home),
        payloads.home_block_actions(
            {"type": "plain_text_input", "action_id": "flow_id", "block_id": "f", "value": "12"},
            view=home,
        ),
    ]
    for body in bodies:
        check_shape(_form_payload(body))
