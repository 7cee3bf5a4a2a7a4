"""The demo in-process: its stories do what their hints say, channels show by name, and
quitting shows what is still owed."""

from __future__ import annotations

import asyncio
import io
import re

import pytest

from bot.cli import demo
from bot.cli.demo import run_demo
from bot.preview.settings import PreviewSettings
from bot.slack.blocks import messages
from bot.slack.parsing import UsageRequest, parse_command
from bot.standin.slack.payloads import CHANNELS, DEFAULT_WHO
from bot.standin.slack.terminal import HELP
from bot.standin.slack.terminal_watch import STATUS_USAGE
from tests.shared.cli import typed_lines


def _channel_named(name: str) -> str:
    [channel_id] = [channel_id for channel_id, known in CHANNELS.items() if known == name]
    return channel_id


async def test_the_demo_shows_channels_by_name_wherever_it_shows_one() -> None:
    out = io.StringIO()
    general = _channel_named("general")
    await run_demo(
        typed_lines(
            "picker",
            "flows sign up v3",
            "pick 1",
            "submit",
            "channel",
            "channel #general",
            f"channel {general}",
            "submit",
            "wait",
        ),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
    )
    output = out.getvalue()

    assert f"Share in: #{DEFAULT_WHO.channel_name}\n" in output, "the person's own channel"
    assert output.count("Share in: #general\n") == 2, "picked by name, then by ID"
    assert "via response_url of share in #general\n" in output
    assert "Shared in #general." in output, "the bot's <#C…> as Slack's client shows it"
    assert not re.search(r"#C[0-9A-Z]{8,}", output), "no channel shown by its ID"


async def test_ids_and_name_words_together_get_a_sentence() -> None:
    request = parse_command("1234567890123456 *bold*")
    assert isinstance(request, UsageRequest)
    [warning, _] = messages.usage_message(request.problem, request.token)["blocks"]
    out = io.StringIO()
    await run_demo(
        typed_lines("/flowpreview 1234567890123456 *bold*"),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
    )

    # What Slack shows: the words in a code span, so that *bold* stays as typed.
    assert warning["text"]["text"] == (
        ":warning: `*bold*` is not a flow ID. Give either flow IDs or a flow name, not both."
    )
    assert "⚠️ *bold* is not a flow ID. Give either flow IDs or a flow name, not both.\n" in (
        out.getvalue()
    )


async def test_quit_waits_for_what_is_owed_and_for_no_quiet_spell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Were piped input still followed by a wait for a quiet spell, this one would never end.
    monkeypatch.setattr(demo, "PIPED_LINGER_S", 3600.0)
    out = io.StringIO()
    async with asyncio.timeout(120):  # a guard against hanging, not a measure of speed
        await run_demo(
            typed_lines("/flowpreview 1234567890123456", "quit", "/flowpreview 4030000000000000"),
            out,
            preview_settings=PreviewSettings.from_env({}),
            interactive=False,
        )
    output = out.getvalue()

    assert "ack to /flowpreview 1234567890123456\n" in output
    assert "leaving once" not in output, "nothing was owed"
    assert "4030000000000000\n#" not in output, "nothing is read after quit"


async def test_paste_home_and_step_say_how_they_are_used_and_what_a_step_gave() -> None:
    out = io.StringIO()
    await run_demo(
        typed_lines(
            "paste",
            "paste no flow here: https://example.com/flows/1234567890123456/",
            "home search dental",
            "home bogus",
            "step",
            "step newsletter düsseldorf space:cams-acme",
            "step 4040000000000000",
        ),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
    )
    output = out.getvalue()

    assert "> paste\nUsage: paste <message text with a flow link>\n" in output
    # Slack sends link_shared only for the app's domain: the message stays as it is.
    assert (
        "#1 (visible to the channel) you posted\n"
        "    no flow here: https://example.com/flows/1234567890123456/\n"
        "> home search dental\n"
    ) in output
    assert "The Home tab is not open; type home to open it.\n" in output
    assert "Usage: home, or home search [WORDS]\n" in output
    assert "Usage: step <flow ID, link or name> [space:ID]\n" in output
    completed = re.search(
        r"step newsletter düsseldorf space:cams-acme: the step completed with these outputs:\n"
        r"    preview_url: (\S+)\n    expires_at: \d+\n    flow_id: (\d+)\n"
        r"    flow_name: (.+)\n    status: \w*\n",
        output,
    )
    assert completed is not None, output
    assert completed[1].startswith(
        f"https://business.facebook.com/wa/manage/flows/{completed[2]}/preview/?token="
    )
    assert "Düsseldorf" in completed[3], "the flow of the space the step was given"
    assert "step 4040000000000000: the step failed: CAMS has no such flow" in output


def test_the_intro_and_the_help_list_the_watch_verbs() -> None:
    text = demo.intro(None)

    assert "/flowpreview watch 1234567890123456" in text
    assert "status 1234567890123456 BLOCKED" in text
    assert "poll" in text
    assert "status <flow> <STATUS|removed>" in HELP
    assert "\n  poll " in HELP


async def test_status_and_poll_say_how_they_are_used_and_what_they_did() -> None:
    out = io.StringIO()
    await run_demo(
        typed_lines(
            "status",
            "status 1234567890123456 BLOCKED space:a space:b",
            "status 1111111111111111 BLOCKED",
            "status 1234567890123456 BLOCKED",
            f"status 9876543210987654 {'X' * 33}",
            "poll now",
            "poll",
        ),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
    )
    output = out.getvalue()

    assert output.count(f"{STATUS_USAGE}\n") == 2
    assert "status: flow '1111111111111111' is not in any space.\n" in output
    assert (
        "(the emulator: flow 1234567890123456 'Sign-up v3' in space cams-demo went "
        "PUBLISHED → BLOCKED; GetFlow says so from now on)\n"
        "(no channel watches it: /flowpreview watch 1234567890123456 first, to hear of it)\n"
    ) in output
    assert "status: status must be printable text" in output
    assert "> poll now\nUsage: poll\n" in output
    assert "> poll\n(the bot polled every watched flow once, and posted no message)\n" in output
    assert "posted by the bot" not in output, "nobody watches a flow"


async def test_a_watched_flow_s_later_changes_are_replies_in_its_thread() -> None:
    flow = "9876543210987654"
    out = io.StringIO()
    await run_demo(
        typed_lines(
            f"/flowpreview watch {flow}",
            f"status {flow} DEPRECATED",
            "poll",
            f"status {flow} removed",
            "poll",
        ),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
    )
    output = out.getvalue()

    assert "(the bot sees it at its next poll, within 5 s; poll looks now)\n" in output
    assert "went DEPRECATED → removed;" in output
    parent, reply = re.findall(
        r"^#\d+ \(visible to the channel\) posted by the bot.*$", output, re.M
    )
    assert parent.endswith(f" in #{DEFAULT_WHO.channel_name}")
    assert reply.endswith(f" in #{DEFAULT_WHO.channel_name}, a reply in a thread")
    gone = output.partition(reply)[2]
    assert "is gone from space cams-demo" in gone
    assert "Get my preview" not in gone.partition("\n> ")[0], "a removed flow has no preview"
    assert "token=" not in output.partition(f"> /flowpreview watch {flow}\n")[2]


async def test_status_and_poll_need_the_bot_and_the_emulator_in_this_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "PIPED_LINGER_S", 0.0)
    out = io.StringIO()
    await run_demo(
        typed_lines("status 1234567890123456 BLOCKED", "poll"),
        out,
        preview_settings=PreviewSettings.from_env({}),
        interactive=False,
        # Never asked: neither command reaches a bot.
        bots=["http://127.0.0.1:9"],
    )
    output = out.getvalue()

    assert output.count("works when the demo runs the bot and the emulator itself") == 2
