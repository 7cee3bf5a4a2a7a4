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
