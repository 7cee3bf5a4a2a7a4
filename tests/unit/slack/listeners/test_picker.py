"""The flow picker: CAMS_SPACES, its modals, and the global shortcut, options and submissions
over real signed HTTP with the emulator's catalog and the fake Slack on loopback."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.blocks import Option
from slack_sdk.models.views import View

from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowDetails, FlowPreview, FlowStatus, FlowSummary
from bot.config import ConfigError
from bot.preview.spaces import MAX_SPACES, SpaceChoice, listed_only, parse_spaces, spaces_from_env
from bot.slack.blocks import messages, modals
from bot.slack.constants import (
    PICKER_CALLBACK_ID,
    PICKER_FLOW_ACTION_ID,
    PICKER_FLOW_BLOCK_ID,
    PICKER_RESULT_CALLBACK_ID,
    PICKER_SHARE_BLOCK_ID,
    PICKER_SPACE_BLOCK_ID,
)
from bot.standin.cams.catalog import ACME_SPACE, DEMO_SPACE
from bot.standin.harness.slack_bot import SIGNING_SECRET, Bot
from bot.standin.slack import limits, payloads
from bot.standin.slack.terminal import Terminal
from tests.shared.picker import (
    ACME,
    DEMO,
    HANG_GUARD_S,
    NEWSLETTER,
    SIGN_UP_V2,
    SIGN_UP_V3,
    Json,
    flow_option,
    load_options,
    open_picker,
    picker_bot,
    submit_view,
    view_text,
)

# --- CAMS_SPACES ---------------------------------------------------------------------------


def test_spaces_put_the_default_first_with_its_label_from_the_list() -> None:
    spaces = parse_spaces("cams-acme=Acme Corp, cams-demo = Demo ,cams-x", "cams-demo")
    assert spaces == (
        SpaceChoice("cams-demo", "Demo"),
        SpaceChoice("cams-acme", "Acme Corp"),
        SpaceChoice("cams-x", "cams-x"),
    )


def test_spaces_without_a_list_or_a_default() -> None:
    assert parse_spaces(None, "cams-demo") == (SpaceChoice("cams-demo", "cams-demo"),)
    assert parse_spaces(None, None) == ()
    assert spaces_from_env({"CAMS_SPACES": "  ", "CAMS_CUST_SPACE_ID": ""}) == ()
    assert spaces_from_env({"CAMS_SPACES": "a=A=1"}) == (SpaceChoice("a", "A=1"),)


@pytest.mark.parametrize(
    ("raw", "default", "variable", "phrase"),
    [
        ("a,,b", None, "CAMS_SPACES", "empty entry"),
        ("a,", None, "CAMS_SPACES", "empty entry"),
        ("a,a=Again", None, "CAMS_SPACES", "twice"),
        ("bad space", None, "CAMS_SPACES", "is not a space ID"),
        ("a=", None, "CAMS_SPACES", "no label"),
        ("a=" + "x" * 76, None, "CAMS_SPACES", "longer than 75"),
        ("a=tab\there", None, "CAMS_SPACES", "control characters"),
        (",".join(f"s{n}" for n in range(MAX_SPACES)), "d", "CAMS_SPACES", "Slack shows 100"),
        ("a", "bad/space", "CAMS_CUST_SPACE_ID", "space ID"),
        ("cams-acme,CAMS_ACME=Acme", None, "CAMS_SPACES", "'cams-acme' and 'CAMS_ACME'"),
        ("cams-acme", "Cams-Acme", "CAMS_CUST_SPACE_ID", "look-alikes"),
    ],
)
def test_bad_spaces_name_the_variable(
    raw: str, default: str | None, variable: str, phrase: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_spaces(raw, default)
    assert caught.value.variable == variable
    assert phrase in str(caught.value)


def test_only_spaces_from_cams_spaces_make_a_list_that_settings_must_keep_to() -> None:
    assert listed_only(parse_spaces(None, "cams-demo")) is None
    assert listed_only(parse_spaces("cams-acme", "cams-demo")) == frozenset(
        {"cams-demo", "cams-acme"}
    )
    assert [space.listed for space in parse_spaces("cams-acme", "cams-demo")] == [False, True]


def test_a_hundred_spaces_with_the_default_fit() -> None:
    spaces = parse_spaces(",".join(f"s{n}" for n in range(MAX_SPACES)), "s0")
    assert len(spaces) == MAX_SPACES
    assert spaces[0].id == "s0"


# --- the modals ----------------------------------------------------------------------------


def _valid(view: Json) -> Json:
    """`view`, after checking it against Slack's limits and slack_sdk's models."""
    assert limits.view_problems(view) == []
    assert View(**view).to_dict() == view
    return view


def _preview(flow_id: str = SIGN_UP_V3.flow_id, url: str | None = None) -> FlowPreview:
    link = url or f"https://business.facebook.com/wa/manage/flows/{flow_id}/preview/?token=t"
    return FlowPreview(flow_id, link, datetime(2030, 1, 1, tzinfo=UTC), "REQ-1")


def test_the_picker_offers_every_space_and_an_external_flow_list() -> None:
    view = _valid(modals.picker_view([DEMO, ACME]))

    assert view["callback_id"] == PICKER_CALLBACK_ID
    assert (view["title"]["text"], view["submit"]["text"], view["close"]["text"]) == (
        "Flow preview",
        "Preview",
        "Cancel",
    )
    space, flow = view["blocks"]
    assert [o["value"] for o in space["element"]["options"]] == [DEMO_SPACE, ACME_SPACE]
    assert space["element"]["initial_option"]["value"] == DEMO_SPACE
    assert flow["element"]["type"] == "external_select"
    assert flow["element"]["action_id"] == PICKER_FLOW_ACTION_ID
    assert flow["element"]["min_query_length"] == 0
    assert modals.read_metadata(view["private_metadata"], [DEMO, ACME]) == modals.Metadata(
        DEMO_SPACE
    )


def test_with_no_space_the_modal_says_what_to_set() -> None:
    view = _valid(modals.picker_view([]))
    text = json.dumps(view)
    assert "CAMS_CUST_SPACE_ID" in text
    assert "CAMS_SPACES" in text
    assert "submit" not in view


def test_options_are_clipped_to_slacks_limits() -> None:
    long_name = FlowSummary("1234567890123456", "Ü" * 200, ("SIGN_UP",) * 40)
    odd = FlowSummary("not an id!", "Odd", ())
    flows = [long_name, odd] + [FlowSummary(str(10**15 + n), f"F{n}", ()) for n in range(150)]
    options = modals.flow_options(flows, DEMO)

    assert len(options) == modals.MAX_OPTIONS
    assert limits.options_problems({"options": options}) == []
    assert all(Option(**option).to_dict() == option for option in options)
    assert len(options[0]["text"]["text"]) == 75
    assert "not an id!" not in json.dumps(options)


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        42,
        "",
        "not json",
        "[]",
        json.dumps({"space": "cams-elsewhere"}),
        json.dumps({"space": DEMO_SPACE, "flow": "<@U123> hi"}),
        json.dumps({"space": DEMO_SPACE, "flow": 1234567890123456}),
        json.dumps({"space": DEMO_SPACE, "extra": "x"}),
        json.dumps({"space": DEMO_SPACE, "flow": "1" * 20, "pad": "x" * 3000}),
        json.dumps({"space": DEMO_SPACE}) + " " * 3000,
    ],
)
def test_hostile_metadata_is_not_read(metadata: object) -> None:
    assert modals.read_metadata(metadata, [DEMO, ACME]) is None


@pytest.mark.parametrize("status", [*FlowStatus, None])
def test_the_result_view_shows_the_flow_and_a_share_picker(status: FlowStatus | None) -> None:
    about = FlowDetails(SIGN_UP_V3.flow_id, "Sign-up <v3> & co", status, ("SIGN_UP",), "R")
    view = _valid(modals.result_view(_preview(), space=DEMO_SPACE, about=about, now=0.0))

    heading = view["blocks"][0]["text"]["text"]
    assert heading == f"{messages.flow_title(SIGN_UP_V3.flow_id, about)}\nSpace `{DEMO_SPACE}`"
    assert "`Sign-up &lt;v3&gt; &amp; co`" in heading
    assert (status is not None) == any(words in heading for words in messages.STATUS_WORDS.values())
    text = json.dumps(view, ensure_ascii=False)
    assert "<!date^" in text
    assert "REQ-1" in text
    share = view["blocks"][-1]
    assert share["block_id"] == PICKER_SHARE_BLOCK_ID
    assert share["optional"] is True
    assert share["element"]["type"] == "conversations_select"
    assert share["element"]["response_url_enabled"] is True
    assert share["element"]["default_to_current_conversation"] is True
    assert (view["callback_id"], view["submit"]["text"], view["close"]["text"]) == (
        PICKER_RESULT_CALLBACK_ID,
        "Share",
        "Done",
    )


def test_a_link_that_cannot_be_a_button_offers_no_share() -> None:
    preview = _preview(url="http://insecure.example/preview")
    view = _valid(modals.result_view(preview, space=DEMO_SPACE, about=None, now=0))
    assert "submit" not in view
    assert "too long for Slack" in json.dumps(view)


def test_a_failure_is_one_sentence() -> None:
    failure = CamsError(ErrorKind.NOT_FOUND, "gone", request_id="REQ-9")
    view = _valid(modals.failure_view(SIGN_UP_V3.flow_id, SIGN_UP_V3.summary, DEMO_SPACE, failure))
    text = json.dumps(view)
    assert "Sign-up v3" in text
    assert DEMO_SPACE in text
    assert "no such flow" in text
    assert "REQ-9" in text


# --- over loopback: the shortcut, the options, the submissions ------------------------------


async def _warm(bot: Bot, space: str = DEMO_SPACE) -> None:
    assert await bot.service.catalog.wait(space, HANG_GUARD_S) is not None


def _ids(options: list[Json]) -> list[str | None]:
    """The flow IDs that options' values name."""
    return [modals.picked_flow(option["value"]) for option in options]


def _space_option(space: str) -> Json:
    return {"text": {"type": "plain_text", "text": space}, "value": space}


async def _result(bot: Bot, flow_id: str = SIGN_UP_V3.flow_id) -> Json:
    """Open the picker, choose `flow_id`, submit; the result view as Slack then stores it."""
    _, view = await open_picker(bot)
    chosen = flow_option(f"{flow_id}{modals.SPACE_MARK}{DEMO_SPACE}")
    answer = await submit_view(bot, view, {PICKER_FLOW_BLOCK_ID: chosen})
    assert answer["response_action"] == "update"
    assert bot.slack.replace_view(view["id"], answer["view"]) == []
    return bot.slack.views[view["id"]]


async def test_the_shortcut_opens_the_picker_within_the_triggers_life() -> None:
    async with picker_bot() as bot:
        answer, view = await open_picker(bot)

    # The fake refuses a trigger used late or twice, and a view over Slack's limits.
    assert (answer.status, answer.body) == (200, "")
    assert view["callback_id"] == PICKER_CALLBACK_ID
    assert [c.method for c in bot.slack.api_calls if c.method.startswith("views.")] == [
        "views.open"
    ]
    space = view["blocks"][0]["element"]
    assert [o["value"] for o in space["options"]] == [DEMO_SPACE, ACME_SPACE]


async def test_with_no_space_the_shortcut_opens_a_modal_saying_what_to_set() -> None:
    async with picker_bot(spaces=()) as bot:
        _, view = await open_picker(bot)

    assert "CAMS_SPACES" in view_text(view)
    assert view["submit"] is None


async def test_a_warm_catalog_lists_the_best_matches_first() -> None:
    async with picker_bot() as bot:
        _, view = await open_picker(bot)
        await _warm(bot)
        snapshot = bot.service.catalog.peek(DEMO_SPACE)
        assert snapshot is not None
        everything = await load_options(bot, view, "")
        sign_up = await load_options(bot, view, "sign up")
        typo = await load_options(bot, view, "apointment bokking")
        nothing = await load_options(bot, view, "zzzz qqqq")
        by_id = await load_options(bot, view, SIGN_UP_V3.flow_id)
        unknown_id = await load_options(bot, view, "1111111111111111")

    assert _ids(everything) == [f.flow_id for f in snapshot.index.first(100)]
    assert {o["value"].partition("@")[2] for o in everything} == {DEMO_SPACE}
    assert _ids(sign_up) == [m.flow.flow_id for m in snapshot.index.search("sign up", 100).matches]
    assert "Sign" in sign_up[0]["text"]["text"]
    assert "Order tracking" not in json.dumps(sign_up)
    assert typo[0]["text"]["text"].startswith("Appointment booking")
    assert [o["value"] for o in nothing] == [modals.NO_MATCH]
    assert by_id == [
        {
            "text": {"type": "plain_text", "text": "Sign-up v3", "emoji": True},
            "value": f"{SIGN_UP_V3.flow_id}@{DEMO_SPACE}",
            "description": {
                "type": "plain_text",
                "text": f"{SIGN_UP_V3.flow_id} · SIGN_UP",
                "emoji": True,
            },
        }
    ]
    assert [o["value"] for o in unknown_id] == [f"1111111111111111@{DEMO_SPACE}"]


async def test_the_space_picked_in_the_modal_is_the_one_listed() -> None:
    async with picker_bot() as bot:
        _, view = await open_picker(bot)
        await _warm(bot, ACME_SPACE)
        acme = bot.service.catalog.peek(ACME_SPACE)
        assert acme is not None

        options = await load_options(
            bot, view, "", {PICKER_SPACE_BLOCK_ID: _space_option(ACME_SPACE)}
        )
        # A space that is not offered is never listed: the default is.
        await _warm(bot)
        forged = await load_options(
            bot, view, "", {PICKER_SPACE_BLOCK_ID: _space_option("cams-elsewhere")}
        )
        demo = bot.service.catalog.peek(DEMO_SPACE)
        assert demo is not None

    assert [o["value"] for o in options] == [
        f"{f.flow_id}@{ACME_SPACE}" for f in acme.index.first(100)
    ]
    assert [o["value"] for o in forged] == [
        f"{f.flow_id}@{DEMO_SPACE}" for f in demo.index.first(100)
    ]


async def test_a_denied_listflow_says_which_action_search_needs() -> None:
    async with picker_bot() as bot:
        bot.cams.fault("error:Ram.PermissionDeny@action:ListFlow")
        _, view = await open_picker(bot)
        # The refresh the shortcut started has failed by the time this returns.
        assert await bot.service.catalog.wait(DEMO_SPACE, HANG_GUARD_S) is None

        options = await load_options(bot, view, "sign")
        by_id = await load_options(bot, view, SIGN_UP_V3.flow_id)

    assert [o["value"] for o in options] == [modals.DENIED]
    assert "cams:ListFlow" in options[0]["text"]["text"]
    assert _ids(by_id) == [SIGN_UP_V3.flow_id]


@pytest.mark.parametrize(
    ("flow", "status_words"),
    [
        (SIGN_UP_V3, messages.STATUS_WORDS[FlowStatus.PUBLISHED]),
        (NEWSLETTER, messages.STATUS_WORDS[FlowStatus.DRAFT]),
        (SIGN_UP_V2, messages.STATUS_WORDS[FlowStatus.DEPRECATED]),
    ],
)
async def test_submit_shows_the_preview_with_its_name_and_status(
    flow: Any, status_words: str
) -> None:
    async with picker_bot() as bot:
        await _warm(bot)
        view = await _result(bot, flow.flow_id)

    text = view_text(view)
    assert flow.name in text
    assert flow.flow_id in text
    assert status_words in text
    assert "<!date^" in text
    assert f"/flows/{flow.flow_id}/" in text
    assert view["callback_id"] == PICKER_RESULT_CALLBACK_ID


async def test_share_posts_the_preview_for_the_channel() -> None:
    async with picker_bot() as bot:
        view = await _result(bot)
        response_url = bot.slack.new_response_url()

        answer = await submit_view(bot, view, {PICKER_SHARE_BLOCK_ID: "C42"}, response_url)
        delivery = await bot.slack.next_response(response_url, within=HANG_GUARD_S)

    assert answer["response_action"] == "update"
    assert "Shared in <#C42>" in view_text(answer["view"])
    assert delivery.accepted
    assert delivery.message is not None
    assert delivery.message["response_type"] == "in_channel"
    shared = json.dumps(delivery.message)
    assert SIGN_UP_V3.flow_id in shared
    assert "token=" not in shared
    assert "https://" not in shared, "a bearer link in the channel"
    assert f"<@{payloads.DEFAULT_WHO.user_id}>" in shared


async def test_share_without_a_conversation_just_closes() -> None:
    async with picker_bot() as bot:
        view = await _result(bot)
        answer = await submit_view(bot, view, {}, bot.slack.new_response_url())

    assert answer == {"response_action": "clear"}
    assert bot.slack.deliveries == []


@pytest.mark.parametrize(
    ("chosen", "block", "phrase"),
    [
        ({PICKER_FLOW_BLOCK_ID: flow_option(modals.LOADING)}, PICKER_FLOW_BLOCK_ID, "loading"),
        ({PICKER_FLOW_BLOCK_ID: flow_option(modals.DENIED)}, PICKER_FLOW_BLOCK_ID, "ListFlow"),
        ({PICKER_FLOW_BLOCK_ID: flow_option(modals.NO_MATCH)}, PICKER_FLOW_BLOCK_ID, "Pick"),
        ({PICKER_FLOW_BLOCK_ID: flow_option("<@U1> *x*")}, PICKER_FLOW_BLOCK_ID, "Pick"),
        ({PICKER_FLOW_BLOCK_ID: flow_option("not-listed")}, PICKER_FLOW_BLOCK_ID, "lists no"),
        # Picked from Acme's list, then the space changed back to Demo before submitting.
        (
            {PICKER_FLOW_BLOCK_ID: flow_option(f"{SIGN_UP_V3.flow_id}@{ACME_SPACE}")},
            PICKER_FLOW_BLOCK_ID,
            "listed for another space",
        ),
        ({PICKER_FLOW_BLOCK_ID: flow_option(f"@{DEMO_SPACE}")}, PICKER_FLOW_BLOCK_ID, "Pick"),
        ({}, PICKER_FLOW_BLOCK_ID, "Pick a flow"),
        (
            {
                PICKER_SPACE_BLOCK_ID: _space_option("cams-elsewhere"),
                PICKER_FLOW_BLOCK_ID: flow_option(SIGN_UP_V3.flow_id),
            },
            PICKER_SPACE_BLOCK_ID,
            "Pick one of the spaces",
        ),
    ],
)
async def test_a_submission_that_names_no_flow_is_refused_on_its_block(
    chosen: dict[str, Any], block: str, phrase: str
) -> None:
    async with picker_bot() as bot:
        await _warm(bot)
        _, view = await open_picker(bot)
        answer = await submit_view(bot, view, chosen)

    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [block]
    assert phrase in answer["errors"][block]
    assert bot.cams.emulator.by_flow == {}


@pytest.mark.parametrize(
    "metadata",
    [
        json.dumps({"space": "cams-elsewhere", "flow": SIGN_UP_V3.flow_id}),
        json.dumps({"space": DEMO_SPACE}),
        json.dumps({"space": DEMO_SPACE, "flow": "x" * 65}),
        "x" * 3001,
    ],
)
async def test_a_share_with_altered_metadata_is_refused(metadata: str) -> None:
    async with picker_bot() as bot:
        view = {**(await _result(bot)), "private_metadata": metadata}
        response_url = bot.slack.new_response_url()
        answer = await submit_view(bot, view, {PICKER_SHARE_BLOCK_ID: "C42"}, response_url)

    assert answer["response_action"] == "update"
    assert "out of date" in view_text(answer["view"])
    assert bot.slack.deliveries == []


async def test_the_terminal_shows_the_picker_its_options_and_the_share() -> None:
    out = io.StringIO()
    async with picker_bot() as bot:
        await _warm(bot)
        terminal = Terminal(bot_url=bot.url, signing_secret=SIGNING_SECRET, fake=bot.slack, out=out)
        lines = ["picker", "flows sign up v3", "pick 1", "submit", "channel", "submit", "wait"]

        async def script() -> AsyncIterator[str]:
            for line in lines:
                yield line

        await terminal.run(script())
    shown = out.getvalue()

    assert "modal opened:\n    [ Flow preview ]\n" in shown
    assert "    Space: Demo\n      choices: 1 Demo | 2 cams-acme\n" in shown
    assert (
        "options for flows sign up v3:\n    1. Sign-up v3 - 1234567890123456 · SIGN_UP\n" in shown
    )
    assert "Flow: Sign-up v3\n" in shown
    assert "modal updated by the answer to submit:" in shown
    assert "Published" in shown
    assert "[Done] [Share]" in shown
    assert f"Share in: #{payloads.DEFAULT_WHO.channel_name}\n" in shown
    assert "Shared in #" in shown
    assert "(visible to the channel) via response_url of share in #" in shown
    assert "Traceback" not in shown
    assert "\n! " not in shown
