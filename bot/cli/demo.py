"""`python -m bot demo`: the whole bot on this machine, with no Slack workspace or Alibaba account.

It starts the CAMS emulator, a fake Slack and the real bot server on loopback ports, then a
terminal where a person types `/flowpreview <id or name>`, opens the flow picker, pastes a
flow link for the bot to unfurl, opens the app's Home tab or runs its workflow step, and sees
the reply. A channel can watch a flow: `status` changes the flow's status in the emulator, and
the bot's message about it shows in the channel at its next poll (every few seconds here), or
at once after `poll`. Every request to the bot is a real v0-signed HTTP request. The logs go
to a file, named once at the start, so that they never break into the conversation.

With --bot, the terminal talks to bots already serving instead (requests go to each in turn,
as a load balancer would send them), and only the fake Slack runs here: on --slack-port, the
port those bots' SLACK_API_URL and SLACK_RESPONSE_URL_HOSTS name. They must use the demo's
signing secret; compose.yaml's demo profile runs two replicas this way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from collections.abc import AsyncIterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from bot.access.settings import AccessSettings
from bot.cams.settings import DEFAULT_MAX_ATTEMPTS, CamsSettings
from bot.config import ConfigError, Endpoint, Secret
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.preview.spaces import parse_spaces
from bot.serving import serving
from bot.slack.server import DEPS, WATCHING, create_server, runner_options
from bot.slack.settings import SlackSettings
from bot.slack.watching.settings import WatchSettings
from bot.standin.cams.faults import FaultRule
from bot.standin.cams.server import DEMO_CREDENTIALS, Emulator
from bot.standin.slack.fake_slack import FakeSlack
from bot.standin.slack.line_editor import LineEditor
from bot.standin.slack.payloads import DEFAULT_WHO
from bot.standin.slack.terminal import PROMPT, LocalBot, Terminal, stdin_lines
from bot.standin.slack.terminal_watch import LocalWatching
from bot.store.settings import StoreSettings
from bot.store.store import Store

DEMO_SIGNING_SECRET = "flowpreview-demo-signing-secret"  # noqa: S105 - the demo's own
DEMO_BOT_TOKEN = "xoxb-flowpreview-demo"  # noqa: S105 - the demo's own
# As in production, so that the outage story shows what a real outage costs.
DEMO_MAX_ATTEMPTS = DEFAULT_MAX_ATTEMPTS
DEMO_DEADLINE_S = 10.0
# With piped input to bots serving elsewhere, whose shutdown the demo does not see: keep
# printing what arrives until it has been quiet this long, longer than the 2 s between the
# slow story's ack and its reply.
PIPED_LINGER_S = 3.0
# Watched flows are polled every few seconds, not every 15 minutes, so that a status changed
# from the terminal shows in the channel while the person waits; `poll` needs no wait at all.
DEMO_WATCH = WatchSettings(poll_s=5.0, max_qps=4.0)


@dataclass(frozen=True, slots=True)
class Story:
    """A flow ID the emulator treats in a special way, and what trying it shows."""

    flow_id: str
    fault: str
    hint: str


# Each hint says what the person will see; tests/integration/cli/test_demo.py holds every one to it.
STORIES = (
    Story(
        "5555555555555555",
        "latency:4",
        "CAMS answers after 4 s: 'Fetching…' at once, the preview follows by response_url",
    ),
    Story("4030000000000000", "error:Ram.PermissionDeny", "the RAM user lacks the permission"),
    Story("4040000000000000", "error:Flow.NotFound", "CAMS does not know the flow"),
    Story(
        "5030000000000000",
        "http:503",
        f"CAMS is down: the bot tries {DEMO_MAX_ATTEMPTS} times, then says so",
    ),
)
# The emulator's default catalog: 40 flows in the default space, 20 in the other one.
DEMO_SPACES = "cams-demo=Demo space,cams-acme=Acme Retail"
DEMO_SPACE = "cams-demo"
HEADLINE = "flowpreview demo: the CAMS emulator, a fake Slack and the bot, all on this machine."
INTRO = """{headline}

Try:
  /flowpreview 1234567890123456
  /flowpreview 1234567890123456 9876543210987654 space:cams-demo
  /flowpreview sign up           (a search by name: several matches; click N previews one)
  /flowpreview apointment dental (a typo, and still one clear match: its preview)
  /flowpreview newsletter space:cams-acme
{stories}
  shortcut Is https://business.facebook.com/wa/manage/flows/9876543210987654/preview/ done?
  shortcut Can you check *Appointment booking \u2013 Dental* today?
  share 1      (after a preview: post it to the channel)
  picker       (the Preview a WhatsApp Flow shortcut; then: flows sign, pick 1, submit,
                channel, submit)
  paste See https://business.facebook.com/wa/manage/flows/9876543210987654/ please
               (the bot unfurls the link as a card; then: click 1, wait. A pasted
                .../preview/?token=... link is not unfurled: its poster gets a warning)
  home         (the app's Home tab; then: home search dental, pin 1, preview 1, wait)
  step appointment dental   (the workflow step Get a WhatsApp flow preview, and its outputs)
  /flowpreview watch 1234567890123456   (this channel hears when the flow's status changes;
                                  also: watch space:cams-demo, watching, unwatch ...)
  status 1234567890123456 BLOCKED  (Meta blocks the flow, in the emulator; the bot posts it
                                  here within {poll_s:g} s, or at once after: poll; then click 1 on
                                  its message for your own preview. status ... removed removes it)
  /flowpreview config             (this channel's space; you are an admin here, so also:
  /flowpreview config space cams-acme   and   config allow cams-acme channel here:
                                  then cams-acme is closed to all but this channel)
  /flowpreview help
"""


def add_parser(commands: Any, summary: str) -> None:
    """Register `demo` on the sub-command parser."""
    parser = commands.add_parser(
        "demo",
        help=summary,
        description=__doc__,
    )
    parser.add_argument(
        "--bot",
        action="append",
        default=[],
        metavar="URL",
        help="talk to the bot serving at URL (repeat for replicas) instead of starting one",
    )
    parser.add_argument(
        "--slack-port",
        type=int,
        default=0,
        metavar="PORT",
        help="serve the fake Slack on this loopback port (default: any free one)",
    )
    parser.set_defaults(run=run, log_to_file=True)


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Run until `quit` or the end of input."""
    preview_settings = PreviewSettings.from_env(env)
    if not 0 <= args.slack_port <= 65535:
        raise ConfigError("--slack-port", f"must be 0-65535, got {args.slack_port}")
    interactive = sys.stdin.isatty()
    with contextlib.ExitStack() as stack:
        editor = None
        if interactive:
            editor = stack.enter_context(LineEditor(PROMPT).keeping_the_terminal())
        asyncio.run(
            run_demo(
                editor.lines() if editor is not None else stdin_lines(),
                sys.stdout,
                preview_settings=preview_settings,
                interactive=interactive,
                log_path=args.log_path,
                bots=args.bot,
                slack_port=args.slack_port,
                editor=editor,
            )
        )
    return 0


def demo_emulator() -> Emulator:
    """The CAMS emulator with every story's fault, for the demo's own account."""
    rules = [FaultRule.parse(f"{story.fault}@flow:{story.flow_id}") for story in STORIES]
    return Emulator([DEMO_CREDENTIALS], rules=rules)


def intro(log_path: str | None, bots: Sequence[str] = ()) -> str:
    """What the demo prints first: who takes part, things to try, every story, and where the
    logs go. `bots` are the ones already serving, if the demo started none."""
    stories = "\n".join(f"  /flowpreview {story.flow_id}   ({story.hint})" for story in STORIES)
    headline = HEADLINE
    if bots:
        headline = f"flowpreview demo: a fake Slack here, and the bots at {', '.join(bots)}."
    text = INTRO.format(headline=headline, stories=stories, poll_s=DEMO_WATCH.poll_s)
    return text if log_path is None else f"{text}\nLogs go to {log_path}\n"


async def run_demo(
    lines: AsyncIterable[str],
    out: TextIO,
    *,
    preview_settings: PreviewSettings,
    interactive: bool,
    log_path: str | None = None,
    emulator: Emulator | None = None,
    bots: Sequence[str] = (),
    slack_port: int = 0,
    editor: LineEditor | None = None,
) -> None:
    """Serve the emulator, a fake Slack and the bot, and run the terminal on `lines`.

    With `bots`, serve only the fake Slack, on `slack_port`, and talk to those bots.
    `editor`, when `lines` are its own, shows the prompt and the line being typed.
    """
    slack = await _start_fake_slack(slack_port)
    try:
        if bots:
            introduction = intro(log_path, bots)
            terminal = _terminal(out, bots, slack, interactive=interactive, editor=editor)
            await _converse(terminal, lines, out, introduction)
            return
        cams = emulator if emulator is not None else demo_emulator()
        async with serving(cams.app()) as cams_url:
            await _serve_and_converse(
                lines,
                out,
                cams,
                cams_url,
                slack,
                preview_settings=preview_settings,
                interactive=interactive,
                log_path=log_path,
                editor=editor,
            )
    finally:
        await slack.close()


async def _start_fake_slack(port: int) -> FakeSlack:
    """The fake Slack serving on loopback `port` (0: any free one)."""
    slack = FakeSlack()
    try:
        await slack.start(port=port)
    except OSError as exc:
        raise ConfigError(
            "--slack-port", f"cannot listen on 127.0.0.1:{port}: {os.strerror(exc.errno or 0)}"
        ) from None
    return slack


async def _serve_and_converse(
    lines: AsyncIterable[str],
    out: TextIO,
    cams: Emulator,
    cams_url: str,
    slack: FakeSlack,
    *,
    preview_settings: PreviewSettings,
    interactive: bool,
    log_path: str | None,
    editor: LineEditor | None,
) -> None:
    """Serve the bot on the emulator `cams` at `cams_url` and `slack`, and run the terminal."""
    service = PreviewService.create(
        DEMO_CREDENTIALS,
        CamsSettings(
            Endpoint.parse(cams_url),
            default_space=DEMO_SPACE,
            max_attempts=DEMO_MAX_ATTEMPTS,
            deadline=DEMO_DEADLINE_S,
        ),
        preview_settings,
        parse_spaces(DEMO_SPACES, DEMO_SPACE),
    )
    settings = SlackSettings(
        bot_token=Secret(DEMO_BOT_TOKEN),
        signing_secret=Secret(DEMO_SIGNING_SECRET),
        api_url=slack.api_url,
        response_url_hosts=(slack.reply_host,),
    )
    # The access rules and the audit trail as serve keeps them, in a SQLite file that lasts as
    # long as the demo; the person at the terminal is an admin, so `config` can be tried.
    with tempfile.TemporaryDirectory(prefix="flowpreview-demo-db-") as home:
        store = Store(StoreSettings.from_env({"DATABASE_PATH": str(Path(home) / "demo.sqlite3")}))
        access = AccessSettings(admin_users=frozenset({DEFAULT_WHO.user_id}))
        server = create_server(settings, service, store=store, access=access, watch=DEMO_WATCH)
        async with contextlib.AsyncExitStack() as running:
            bot_url = await running.enter_async_context(serving(server, **runner_options()))
            # Leaving stops the bot while the terminal still shows what its shutdown delivers.
            bot = LocalBot(stop=running.aclose, owed=lambda: len(server[DEPS].inflight))
            terminal = _terminal(
                out,
                [bot_url],
                slack,
                interactive=interactive,
                editor=editor,
                local_watching=LocalWatching(cams, server[WATCHING]),
            )
            await _converse(terminal, lines, out, intro(log_path), local_bot=bot)


def _terminal(
    out: TextIO,
    bots: Sequence[str],
    slack: FakeSlack,
    *,
    interactive: bool,
    editor: LineEditor | None,
    local_watching: LocalWatching | None = None,
) -> Terminal:
    return Terminal(
        bot_url=bots,
        signing_secret=DEMO_SIGNING_SECRET,
        fake=slack,
        out=out,
        interactive=interactive,
        editor=editor,
        linger=0.0 if interactive else PIPED_LINGER_S,
        local_watching=local_watching,
    )


async def _converse(
    terminal: Terminal,
    lines: AsyncIterable[str],
    out: TextIO,
    introduction: str,
    *,
    local_bot: LocalBot | None = None,
) -> None:
    """Print `introduction`, then run `terminal` on `lines`."""
    out.write(introduction + "\n")
    out.flush()
    await terminal.run(lines, local_bot=local_bot)
