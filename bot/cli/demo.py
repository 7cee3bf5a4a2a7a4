"""`python -m bot demo`: the whole bot on this machine, with no Slack workspace or Alibaba account.

It starts the CAMS emulator, a fake Slack and the real bot server on loopback ports, then a
terminal where a person types `/flowpreview <id>` and sees the reply. Every request to the bot
is a real v0-signed HTTP request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cams.emulator.faults import FaultRule
from bot.cams.emulator.server import DEMO_CREDENTIALS, Emulator
from bot.cams.settings import CamsSettings, Endpoint
from bot.config import Secret
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.serving import serving
from bot.slack.server import create_server
from bot.slack.settings import SlackSettings
from bot.standin.fake_slack import running_fake_slack
from bot.standin.terminal import Terminal, stdin_lines

DEMO_SIGNING_SECRET = "flowpreview-demo-signing-secret"  # noqa: S105 - the demo's own
DEMO_BOT_TOKEN = "xoxb-flowpreview-demo"  # noqa: S105 - the demo's own
# Flows with a story, so that the demo shows more than the happy path.
DEMO_FAULTS = {
    "5555555555555555": ("latency:4", "CAMS answers after 4 s: the reply follows by response_url"),
    "4030000000000000": ("error:Ram.PermissionDeny", "the RAM user lacks the permission"),
    "4040000000000000": ("error:Flow.NotFound", "CAMS does not know the flow"),
    "5030000000000000": ("http:503", "CAMS is down (after three quick retries)"),
}
INTRO = """flowpreview demo: the CAMS emulator, a fake Slack and the bot, all on this machine.

Try:
  /flowpreview 1234567890123456
  /flowpreview 1234567890123456 9876543210987654 space:cams-demo
{faults}
  shortcut Is https://business.facebook.com/wa/manage/flows/9876543210987654/preview/ done?
  share 1      (after a preview: post it to the channel)
  /flowpreview help
"""


def add_parser(commands: Any) -> None:
    """Register `demo` on the sub-command parser."""
    parser = commands.add_parser(
        "demo",
        help="try the bot in this terminal, with no Slack or Alibaba account",
        description=__doc__,
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Run until `quit` or the end of input."""
    preview_settings = PreviewSettings.from_env(env)
    asyncio.run(_demo(preview_settings))
    return 0


async def _demo(preview_settings: PreviewSettings) -> None:
    rules = [FaultRule.parse(f"{fault}@flow:{flow}") for flow, (fault, _) in DEMO_FAULTS.items()]
    emulator = Emulator([DEMO_CREDENTIALS], rules=rules)
    async with serving(emulator.app()) as cams_url, running_fake_slack() as slack:
        service = PreviewService.create(
            DEMO_CREDENTIALS,
            CamsSettings(Endpoint.parse(cams_url), max_attempts=3, deadline=10.0),
            preview_settings,
        )
        settings = SlackSettings(
            bot_token=Secret(DEMO_BOT_TOKEN),
            signing_secret=Secret(DEMO_SIGNING_SECRET),
            api_url=slack.api_url,
        )
        async with serving(create_server(settings, service)) as bot_url:
            interactive = sys.stdin.isatty()
            if interactive:
                faults = "\n".join(
                    f"  /flowpreview {flow}   ({story})" for flow, (_, story) in DEMO_FAULTS.items()
                )
                print(INTRO.format(faults=faults), flush=True)
            terminal = Terminal(
                bot_url=bot_url,
                signing_secret=DEMO_SIGNING_SECRET,
                fake=slack,
                interactive=interactive,
                linger=0.0 if interactive else 2.0,
            )
            await terminal.run(stdin_lines())
