"""What watches say: a change, a pause, the list of a channel's watches. Each is inert mrkdwn
within Block Kit's limits, and none holds a preview link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block

from bot.slack.blocks.cards import card_value
from bot.slack.blocks.watching import change_message, paused_message, watching_message
from bot.slack.constants import GET_MY_PREVIEW_ACTION_ID
from bot.standin.slack import limits
from bot.store.watches import Change, ChangeKind, Watch

SEEN = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
FLOW = "1234567890123456"
SPACE = "cams-demo"
# What a flow's name may hold to fool mrkdwn: a mention of everyone, a link, bold.
HOSTILE = "<!channel> <https://evil.example|click> *bold* `tick`"


def _change(
    kind: ChangeKind = ChangeKind.STATUS,
    old: str | None = "PUBLISHED",
    new: str | None = "BLOCKED",
    name: str = "Sign-up v3",
) -> Change:
    return Change(1, SPACE, FLOW, name, kind, old, new, SEEN)


def _watch(flow_id: str | None = FLOW, *, paused: str | None = None, number: int = 1) -> Watch:
    return Watch(
        number, "T1", "C1", SPACE, flow_id, f"U{number:08d}", SEEN + timedelta(days=number), paused
    )


def _valid(message: dict[str, Any]) -> str:
    """The message as text, once Slack's limits and slack_sdk's models accept it."""
    assert limits.problems(message) == []
    for block in Block.parse_all(message["blocks"]):
        block.to_dict()
    return json.dumps(message, ensure_ascii=False)


def _buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]


def test_a_change_of_status_says_what_where_when_and_offers_a_private_preview() -> None:
    message = change_message(_change())
    text = _valid(message)

    assert "Flow `Sign-up v3`: Published → *:octagonal_sign: Blocked*" in text
    assert f"`{FLOW}` · space `{SPACE}`" in text
    assert f"<!date^{int(SEEN.timestamp())}^" in text
    assert "2026-03-01 12:30 UTC" in text, "the fallback of the date, in UTC"
    (button,) = _buttons(message)
    assert button["action_id"] == GET_MY_PREVIEW_ACTION_ID
    assert button["value"] == card_value(FLOW, SPACE)
    assert "url" not in button, "the button asks the bot; it links nowhere"
    assert message["text"] == "Sign-up v3: PUBLISHED → BLOCKED"


def test_a_status_the_bot_does_not_know_is_shown_as_cams_gave_it() -> None:
    text = _valid(change_message(_change(new="PAUSED_BY_META")))

    assert "Published → *`PAUSED_BY_META`*" in text


def test_a_new_flow_and_a_removed_one_are_told_apart() -> None:
    new = change_message(_change(ChangeKind.NEW, old=None, new="DRAFT"))
    removed = change_message(_change(ChangeKind.REMOVED, old="PUBLISHED", new=None))

    assert f":new: New flow `Sign-up v3` in space `{SPACE}`: Draft" in _valid(new)
    assert "is gone from" in _valid(removed)
    assert new["text"] == f"New flow Sign-up v3 in space {SPACE}: DRAFT"
    assert removed["text"] == f"Flow Sign-up v3 is gone from space {SPACE}"
    assert _buttons(new) != []
    assert _buttons(removed) == [], "there is nothing left to preview"


def test_a_flow_without_a_name_is_named_by_its_id() -> None:
    message = change_message(_change(name=""))

    assert f"Flow `{FLOW}`:" in _valid(message)
    assert message["text"].startswith(FLOW)


def test_a_hostile_name_mentions_nobody_and_links_nowhere() -> None:
    message = change_message(_change(name=HOSTILE))
    blocks = json.dumps(message["blocks"])

    for said in (message["text"], blocks):
        assert "<!channel>" not in said
        assert "<https://evil.example" not in said
    _valid(message)


@given(
    name=st.text(max_size=300),
    old=st.none() | st.text(min_size=1, max_size=40),
    new=st.none() | st.text(min_size=1, max_size=40),
    kind=st.sampled_from(ChangeKind),
)
def test_any_change_fits_slacks_limits_and_is_inert(
    name: str, old: str | None, new: str | None, kind: ChangeKind
) -> None:
    message = change_message(_change(kind, old, new, name))

    _valid(message)
    assert "<!" not in message["text"], "no mention, whatever CAMS sends"
    assert "<http" not in message["text"]


def test_a_pause_says_which_watch_why_and_how_to_start_it_again() -> None:
    flow = _valid(paused_message(_watch(), "permission_denied"))
    space = _valid(paused_message(_watch(None), "permission_denied"))

    assert f"I stopped watching flow `{FLOW}` in space `{SPACE}`" in flow
    assert "(permission_denied)" in flow
    assert "grant the bot `cams:GetFlow`." in flow
    assert f"`/flowpreview watch {FLOW}`" in flow
    assert "I stopped watching every flow in space" in space
    assert "grant the bot `cams:ListFlow` and `cams:GetFlow`." in space
    assert f"`/flowpreview watch space:{SPACE}`" in space


@pytest.mark.parametrize(
    ("reason", "advice"),
    [
        ("wrong_owner", "different Alibaba Cloud account"),
        ("not_subscribed", "not activated"),
        ("something_new", "look at the bot's access to CAMS"),
    ],
)
def test_a_pause_gives_the_advice_that_fits_its_reason(reason: str, advice: str) -> None:
    text = _valid(paused_message(_watch(), reason))

    assert advice in text
    assert "cams:GetFlow" not in text, "granting an action would not help"


def test_the_list_says_who_added_each_watch_and_when() -> None:
    text = _valid(watching_message([_watch(), _watch(None, paused="permission_denied", number=2)]))

    assert f"flow `{FLOW}` in space `{SPACE}`, by <@U00000001>" in text
    assert "every flow in space `cams-demo`, by <@U00000002>" in text
    assert "(paused: permission_denied)" in text
    assert f"<!date^{int((SEEN + timedelta(days=1)).timestamp())}^" in text


def test_an_empty_list_says_how_to_start() -> None:
    text = _valid(watching_message([]))

    assert "watches nothing" in text
    assert "watch space:<id>" in text.replace("&lt;", "<").replace("&gt;", ">")


@pytest.mark.parametrize("count", [20, 200])
def test_a_long_list_names_what_fits_and_counts_the_rest(count: int) -> None:
    watches = [_watch(f"{n:016d}", number=n) for n in range(1, count + 1)]
    message = watching_message(watches)
    text = _valid(message)
    shown = text.count("<@U")

    lines = message["text"].splitlines()
    assert all(line.count("<") == line.count(">") for line in lines), "no mention cut short"
    if shown // 2 < count:
        assert f"and {count - shown // 2} more" in message["text"]
