"""The terminal stand-in for the Slack client: type `/flowpreview <id>`, read the bot's reply.

Each command becomes a signed request to the running bot, exactly as Slack would send it, with a
fresh response_url on the fake Slack. The HTTP answer (the ack) and every message the bot posts
to a response_url are rendered as text while input is still being read, and so is every modal
the bot opens or updates through the fake's Web API: `picker` opens the flow picker, `flows`
types into its list, `pick`, `space` and `channel` choose, `submit` presses its button.
`paste` posts a message whose flow links the bot unfurls as cards; `home` opens the app's Home
tab and `home search` searches it; `step` runs the app's workflow step (terminal_surfaces).
What the bot posts in the person's channel (a watched flow's change) is printed as it arrives;
`status` changes a flow's status in the emulator and `poll` has the bot poll at once, when both
run in this process (terminal_watch).
Problems (the bot is down, rejects the signature, answers too slowly) are one line each, never
a traceback. Channels show by name, as in Slack's client.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from textwrap import indent
from typing import Any, TextIO

import aiohttp

from bot.slack.constants import (
    COMMAND,
    EVENTS_PATH,
    HOME_PIN_ACTION_ID,
    HOME_PREVIEW_ACTION_ID,
    HOME_UNPIN_ACTION_ID,
    OPEN_ACTION_ID,
    SHARE_ACTION_ID,
)
from bot.standin.slack import limits, payloads
from bot.standin.slack.fake_slack import TRIGGER_LIFE_S, FakeSlack, ResponseUrlPost, ViewChange
from bot.standin.slack.line_editor import LineEditor
from bot.standin.slack.modal import Modal, ModalError
from bot.standin.slack.mrkdwn import LOCAL_VIEWER, Viewer
from bot.standin.slack.payloads import CHANNELS, DEFAULT_WHO, Who
from bot.standin.slack.render_text import Rendered, render_message, render_options
from bot.standin.slack.signing import signed_headers
from bot.standin.slack.terminal_surfaces import Screen, Shown, SurfaceVerbs
from bot.standin.slack.terminal_watch import LocalWatching, WatchVerbs

# Slack gives up on an ack after 3 seconds and shows the person operation_timeout.
ACK_TIMEOUT_S = 3.0
WAIT_S = 10.0
PROMPT = "> "
_COMMANDS = (
    (f"{COMMAND} <flow id or link>", "run the slash command"),
    ("shortcut <message text>", "run the message shortcut on a message with this text"),
    ('shortcut {"text": ...}', "... on a message given as Slack's JSON"),
    ("open [N]", "click the N-th open button of the latest message that has one"),
    ("share [N]", "click the N-th share button of the latest message that has one"),
    ("click N", "click button [N] of the latest message with buttons"),
    ("paste <text with a flow link>", "post a message; the bot unfurls its flow links as cards"),
    ("home", "open the app's Home tab"),
    ("home search [WORDS]", "type WORDS into the Home tab's search box and press Enter"),
    ("preview N / pin N / unpin N", "click the N-th such button of the Home tab"),
    ("step <flow> [space:ID]", "run the workflow step Get a WhatsApp flow preview"),
    ("status <flow> <STATUS|removed>", "change a flow's status in the emulator (watch it first)"),
    ("poll", "have the bot poll its watched flows now, and post what changed"),
    ("picker", "open the flow picker (the Preview a WhatsApp Flow shortcut)"),
    ("flows [WORDS]", "type WORDS into the picker's flow list and see its options"),
    ("pick N", "pick option N of that list"),
    ("space N", "pick the N-th space in the modal"),
    ("channel [NAME]", "pick the channel to share in, by name or ID (default: this one)"),
    ("submit", "press the modal's submit button"),
    ("close", "close the modal"),
    ("wait [SECONDS]", "wait for the next message at the latest response_url, or modal update"),
    ("help", "this text"),
    ("quit", "leave (so does the end of the input)"),
)
HELP = "Commands:\n" + "\n".join(f"  {usage:<32} {what}" for usage, what in _COMMANDS)
_CLICKS = {
    "open": OPEN_ACTION_ID,
    "share": SHARE_ACTION_ID,
    "click": None,
    "preview": HOME_PREVIEW_ACTION_ID,
    "pin": HOME_PIN_ACTION_ID,
    "unpin": HOME_UNPIN_ACTION_ID,
}
_MODAL_COMMANDS = frozenset({"flows", "pick", "space", "channel", "submit", "close"})
_Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Origin:
    label: str
    clicked: Shown | None


@dataclass(frozen=True, slots=True)
class LocalBot:
    """The bot, when it runs in this process: how to stop it, and how many replies it owes."""

    stop: Callable[[], Awaitable[None]]
    owed: Callable[[], int]


class Terminal:
    """One person's Slack client, talking to the bot at `bot_url` with `signing_secret`.

    `bot_url` may list several replicas of the bot: each request goes to the next one in turn,
    as a load balancer in front of them would send it.

    `interactive` prints a prompt before each line, and again after a message that arrives
    while it waits for one; otherwise each line read is echoed after the prompt, so a
    transcript reads like a session. With an `editor`, the editor shows the prompt and the
    line being typed, and both are shown again after such a message. At the end of the input
    the terminal keeps printing messages until none arrived for `linger` seconds, unless the
    bot runs in this process (see `run`). Mentions of the person and of the bot, and the
    `channels` the person knows (channel ID to name), show by name; `styled` (by default:
    whether `out` is a terminal) shows bold, italics and code as ANSI styles. `local_watching`,
    when the bot and the emulator run in this process, is what `status` and `poll` drive.
    """

    def __init__(
        self,
        *,
        bot_url: str | Sequence[str],
        signing_secret: str,
        fake: FakeSlack,
        out: TextIO = sys.stdout,
        who: Who = DEFAULT_WHO,
        viewer: Viewer = LOCAL_VIEWER,
        interactive: bool = False,
        ack_timeout: float = ACK_TIMEOUT_S,
        linger: float = 0.0,
        styled: bool | None = None,
        editor: LineEditor | None = None,
        channels: Mapping[str, str] = CHANNELS,
        local_watching: LocalWatching | None = None,
    ) -> None:
        urls = (bot_url,) if isinstance(bot_url, str) else tuple(bot_url)
        if not urls:
            raise ValueError("no bot to talk to")
        self.events_urls = tuple(url.rstrip("/") + EVENTS_PATH for url in urls)
        self._next_bot = itertools.cycle(self.events_urls)
        self._secret = signing_secret
        self._fake = fake
        self._out = out
        self._who = who
        self._channels = {**channels, who.channel_id: who.channel_name}
        known = {**self._channels, who.user_id: who.user_name, fake.bot.user_id: fake.bot.user}
        self._viewer = replace(
            viewer,
            names={**known, **viewer.names},
            ansi=out.isatty() if styled is None else styled,
        )
        self._interactive = interactive
        self._editor = editor
        self._ack_timeout = ack_timeout
        self._linger = linger
        self._shown: list[Shown] = []
        self._origins: dict[str, _Origin] = {}
        self._latest_url: str | None = None
        self._arrived: Counter[str] = Counter()
        self._waited: Counter[str] = Counter()
        self._changed = asyncio.Condition()
        self._reading = False
        self._session: aiohttp.ClientSession | None = None
        self._modal: Modal | None = None
        self._opened = 0
        screen = Screen(
            say=self._say,
            show=self._add,
            post=self._post,
            until=self._until,
            opened=lambda: self._opened,
            follow_modal=self._follow_modal,
        )
        self._surfaces = SurfaceVerbs(fake, who, self._viewer, screen, self._changed)
        self._watch = WatchVerbs(
            fake, who, self._viewer, screen, self._changed, local=local_watching
        )
        self._verbs: dict[str, Callable[[str], Awaitable[None]]] = {
            "shortcut": self._shortcut,
            "paste": self._surfaces.paste,
            "home": self._surfaces.home,
            "step": self._surfaces.step,
            "status": self._watch.status,
            "poll": self._watch.poll,
        }

    async def run(self, lines: AsyncIterable[str], *, local_bot: LocalBot | None = None) -> None:
        """Read and run commands from `lines` until `quit` or the end, printing what arrives.

        With `local_bot`, leaving stops the bot at once and shows what its shutdown still
        delivers: every reply it owes, or its word that it restarted. Nothing is waited for
        when nothing is owed, and nothing owed goes unseen.
        """
        with self._fake.subscribe() as deliveries, self._fake.subscribe_views() as changes:
            printers = [
                asyncio.create_task(self._print(deliveries)),
                asyncio.create_task(self._print_views(changes)),
            ]
            try:
                async with self._surfaces.watching(), self._watch.following():
                    # A connection per request, as Slack makes them: one kept alive would race
                    # the bot's closing it after a quiet spell, such as a wait for a card.
                    connector = aiohttp.TCPConnector(force_close=True)
                    async with aiohttp.ClientSession(connector=connector) as session:
                        self._session = session
                        if self._interactive:
                            bots = ", ".join(self.events_urls)
                            self._say(f"Talking to the bot at {bots}. Type help for help.")
                        await self._read(aiter(lines))
                        if local_bot is None:
                            await self._drain()
                    if local_bot is not None:
                        await self._stop(local_bot)
                    # Everything delivered so far is in the queues: show it before leaving.
                    printed: asyncio.Future[Any] = asyncio.gather(
                        deliveries.join(),
                        changes.join(),
                        self._surfaces.settled(),
                        self._watch.settled(),
                    )
                    await asyncio.wait([printed, *printers], return_when=asyncio.FIRST_COMPLETED)
                    printed.cancel()
            finally:
                self._session = None
                for printer in printers:
                    printer.cancel()
                await asyncio.wait(printers)

    async def _stop(self, bot: LocalBot) -> None:
        owed = bot.owed()
        if owed:
            replies = "the reply" if owed == 1 else f"the {owed} replies"
            self._say(f"(leaving once the bot has delivered {replies} it still owes)")
        await bot.stop()

    async def _handle(self, line: str) -> bool:
        """Run one command line; False when it asks to quit."""
        name, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if name in ("quit", "exit"):
            return False
        if name == "help":
            self._say(HELP)
        elif name.startswith("/"):
            await self._slash_command(name, rest)
        elif name in self._verbs:
            await self._verbs[name](rest)
        elif name in _CLICKS:
            await self._click(name, rest)
        elif name == "picker":
            await self._open_picker()
        elif name in _MODAL_COMMANDS:
            await self._in_modal(name, rest)
        elif name == "wait":
            await self._wait(rest)
        elif name:
            self._say(f"Unknown command {name!r}; type help for the commands.")
        return True

    async def _read(self, lines: AsyncIterator[str]) -> None:
        while True:
            if self._interactive and self._editor is None:
                self._out.write(PROMPT)
                self._out.flush()
            self._reading = self._interactive
            try:
                line = await anext(lines)
            except StopAsyncIteration:
                return
            finally:
                self._reading = False
            if not self._interactive:
                self._say(PROMPT + line.rstrip("\n"))
            if not await self._handle(line):
                return

    async def _slash_command(self, command: str, text: str) -> None:
        if command != COMMAND:
            self._say(f"{command} is not a command of this app; try {COMMAND} <flow id>.")
            return
        label = f"{command} {text}".strip()
        url = self._new_response_url(label, None)
        body = payloads.slash_command(text, response_url=url, who=self._who)
        ack = await self._post(body, label, url)
        if ack and ack.strip():
            message = _ack_message(ack)
            for problem in limits.problems(message):
                self._say(f"! Slack would refuse this reply: {problem}")
            self._show(message, f"ack to {label}", None)

    async def _shortcut(self, rest: str) -> None:
        if not rest:
            self._say('Usage: shortcut <message text>  or  shortcut {"text": ...}')
            return
        if rest.startswith("{"):
            try:
                message: _Json = json.loads(rest)
            except ValueError as exc:
                self._say(f"That is not a JSON message: {exc}")
                return
        else:
            message = payloads.message_from_text(rest, who=self._who)
        url = self._new_response_url("shortcut", None)
        # Slack ignores what a shortcut's ack says; only its status counts.
        body = payloads.message_shortcut(message, response_url=url, who=self._who)
        await self._post(body, "shortcut", url)

    async def _click(self, verb: str, rest: str) -> None:
        try:
            number = int(rest) if rest else 1
        except ValueError:
            self._say(f"Usage: {verb} N, where N is a button number.")
            return
        action_id = _CLICKS[verb]
        shown = next(
            (
                s
                for s in reversed(self._shown)
                if not s.gone and any(action_id in (None, b.action_id) for b in s.rendered.buttons)
            ),
            None,
        )
        if shown is None:
            kind = "" if action_id is None else f"{verb} "
            self._say(f"No message has {kind}buttons yet.")
            return
        try:
            button = shown.rendered.button(number, action_id)
        except LookupError as exc:
            self._say(f"#{shown.number}: {exc}.")
            return
        if button.url:
            self._say(f"(a browser would open {button.url})")
        label = f"{verb} {number} on #{shown.number}"
        if shown.home:
            await self._surfaces.click_home(shown, button, label)
            return
        url = self._new_response_url(label, shown)
        if shown.unfurl_url is not None:
            body = payloads.unfurl_block_actions(
                button.element,
                block_id=button.block_id,
                response_url=url,
                message_ts=shown.ts,
                url=shown.unfurl_url,
                who=self._who,
                trigger_id=self._fake.new_trigger_id(),
                blocks=shown.stored["blocks"],
            )
        else:
            body = payloads.block_actions(
                button.element,
                block_id=button.block_id,
                response_url=url,
                message_ts=shown.ts,
                message=shown.stored if shown.rendered.in_channel else None,
                who=self._who,
            )
        # A button's ack only has to be a 200; without one Slack shows a warning icon.
        await self._post(body, label, url)

    async def _open_picker(self) -> None:
        trigger_id = self._fake.new_trigger_id()
        opened = self._opened
        body = payloads.global_shortcut(trigger_id=trigger_id, who=self._who)
        # Slack ignores what a shortcut's ack says; only its status counts.
        if await self._post(body, "picker", None) is None:
            return
        # The bot has the trigger's 3 s to open the modal.
        if not await self._until(lambda: self._opened > opened, TRIGGER_LIFE_S):
            self._say(f"! picker: no modal opened within {TRIGGER_LIFE_S:g} s of the click.")

    async def _in_modal(self, name: str, rest: str) -> None:
        modal = self._modal
        if modal is None:
            self._say("No modal is open; type picker to open one.")
            return
        try:
            if name == "flows":
                await self._flows(modal, rest)
            elif name == "submit":
                await self._submit(modal)
            elif name == "close":
                self._fake.close_view(modal.view_id)
                self._modal = None
                self._say("(modal closed)")
            elif name == "channel":
                self._say(modal.pick_conversation(self._channel_id(rest)))
            else:
                picked = modal.pick_listed if name == "pick" else modal.pick_static
                self._say(picked(_number(rest)))
        except ModalError as exc:
            problem = str(exc)
            self._say(f"{problem[:1].upper()}{problem[1:]}.")

    async def _flows(self, modal: Modal, typed: str) -> None:
        label = f"flows {typed}".strip()
        answer = await self._post(modal.suggestion(typed), label, None)
        if answer is None:
            return
        options = _ack_message(answer)
        for problem in limits.options_problems(options):
            self._say(f"! Slack would show no options: {problem}")
        modal.listed(options)
        self._say(f"options for {label}:\n{indent(chr(10).join(render_options(options)), '    ')}")

    def _channel_id(self, typed: str) -> str:
        """The channel `typed` names: a name the person knows (# optional) or an ID."""
        wanted = typed.removeprefix("#")
        if not wanted:
            return self._who.channel_id
        named = [channel_id for channel_id, name in self._channels.items() if name == wanted]
        return named[0] if named else wanted

    async def _submit(self, modal: Modal) -> None:
        channel = modal.conversation()
        shown = self._channels.get(channel, channel) if channel else None
        url = self._new_response_url(f"share in #{shown}", None) if channel else None
        body = modal.submission(url)
        self._origins.setdefault(modal.view_id, _Origin("the modal", None))
        answer = await self._post(body, "submit", url or modal.view_id)
        if answer is None:
            return
        reply = _ack_message(answer) if answer.strip() else {}
        action = reply.get("response_action")
        if action == "errors":
            errors = reply.get("errors")
            for block_id, text in (errors if isinstance(errors, dict) else {}).items():
                self._say(f"! {block_id}: {text}")
        elif action == "update":
            problems = self._fake.replace_view(modal.view_id, reply.get("view") or {})
            for problem in problems:
                self._say(f"! Slack would refuse this view: {problem}")
            if not problems:
                modal.replaced_by(self._fake.views[modal.view_id])
                self._show_modal(modal, "updated by the answer to submit")
        elif action in (None, "clear"):
            self._fake.close_view(modal.view_id)
            self._modal = None
            self._say("(modal closed)")
        else:
            self._say(f"! submit: the bot answered response_action {action!r}")

    async def _print_views(self, changes: asyncio.Queue[ViewChange]) -> None:
        while True:
            change = await changes.get()
            try:
                await self._print_view(change)
            finally:
                changes.task_done()

    async def _print_view(self, change: ViewChange) -> None:
        if change.method == "response_action":
            return  # shown by _submit, which applied it
        modal = self._modal
        if change.method == "views.open":
            self._modal = Modal(change.view, self._who, viewer=self._viewer)
            self._show_modal(self._modal, "opened")
            self._opened += 1
        elif modal is not None and modal.view_id == change.view_id:
            modal.replaced_by(change.view)
            self._show_modal(modal, f"updated by {change.method}")
        async with self._changed:
            self._arrived[change.view_id] += 1
            self._changed.notify_all()

    def _show_modal(self, modal: Modal, how: str) -> None:
        self._say(f"modal {how}:\n{indent(modal.render().body, '    ')}")

    def _follow_modal(self) -> None:
        """Have `wait` wait for the next update of the modal just opened (its opening was
        its first arrival), such as the preview it fetches."""
        modal = self._modal
        if modal is None:
            return
        self._origins.setdefault(modal.view_id, _Origin("the modal", None))
        self._waited[modal.view_id] = max(self._waited[modal.view_id], 1)
        self._latest_url = modal.view_id

    async def _wait(self, rest: str) -> None:
        try:
            seconds = float(rest) if rest else WAIT_S
        except ValueError:
            self._say("Usage: wait [SECONDS]")
            return
        url = self._latest_url
        if url is None:
            self._say("Nothing to wait for: no request has reached the bot.")
            return
        wanted = self._waited[url] + 1
        if not await self._until(lambda: self._arrived[url] >= wanted, seconds):
            label = self._origins[url].label
            self._say(f"No message arrived at the response_url of {label} in {seconds:g} s.")
            return
        self._waited[url] = wanted

    async def _drain(self) -> None:
        if self._linger > 0:
            while await self._arrival_after(self._arrivals()):
                pass

    async def _arrival_after(self, seen: int) -> bool:
        return await self._until(lambda: self._arrivals() > seen, self._linger)

    def _arrivals(self) -> int:
        return self._arrived.total() + self._surfaces.arrivals + self._watch.arrivals

    async def _until(self, ready: Callable[[], bool], within: float) -> bool:
        """Whether `ready()` became true, as messages arrived, within `within` seconds."""
        try:
            async with asyncio.timeout(within), self._changed:
                await self._changed.wait_for(ready)
        except TimeoutError:
            return False
        return True

    async def _post(self, body: bytes, label: str, response_url: str | None) -> str | None:
        """Send a signed request; the ack body, or None after saying what went wrong.

        `wait` then waits on `response_url` (or a view ID: for its next update), unless the
        bot refused the request.
        """
        assert self._session is not None, "only while run() is running"
        self._latest_url = None
        headers = signed_headers(self._secret, body)
        events_url = next(self._next_bot)
        try:
            async with (
                asyncio.timeout(self._ack_timeout),
                self._session.post(events_url, data=body, headers=headers) as response,
            ):
                status = response.status
                text = (await response.read()).decode(errors="replace")
        except TimeoutError:
            self._say(
                f"! {label}: no answer in {self._ack_timeout:g} s; "
                "Slack would show operation_timeout."
            )
            return None
        except aiohttp.ClientError as exc:
            self._say(f"! {label}: cannot reach the bot at {events_url}: {exc}")
            return None
        if status == 401:
            self._say(f"! {label}: the bot refused the signature (HTTP 401); same signing secret?")
            return None
        if status != 200:
            self._say(f"! {label}: the bot answered HTTP {status}: {_short(text)}")
            return None
        self._latest_url = response_url
        return text

    async def _print(self, deliveries: asyncio.Queue[ResponseUrlPost]) -> None:
        while True:
            delivery = await deliveries.get()
            try:
                await self._print_delivery(delivery)
            finally:
                deliveries.task_done()

    async def _print_delivery(self, delivery: ResponseUrlPost) -> None:
        origin = self._origins.get(delivery.url)
        if origin is None:
            return
        if delivery.accepted and delivery.message is not None:
            self._show(delivery.message, f"via response_url of {origin.label}", origin.clicked)
        else:
            details = "".join(f"; {problem}" for problem in delivery.problems)
            self._say(
                f"! {origin.label}: Slack refused a message posted to the response_url "
                f"(HTTP {delivery.status} {delivery.answer}){details}"
            )
        async with self._changed:
            self._arrived[delivery.url] += 1
            self._changed.notify_all()

    def _new_response_url(self, label: str, clicked: Shown | None) -> str:
        url = self._fake.new_response_url()
        self._origins[url] = _Origin(label, clicked)
        return url

    def _show(self, message: Mapping[str, Any], label: str, clicked: Shown | None) -> None:
        rendered = render_message(message, self._viewer)
        heading = f"{rendered.marker} {label}"
        replaced = (
            clicked if message.get("replace_original") or message.get("delete_original") else None
        )
        if replaced is not None:
            replaced.gone = True
            verb = "deletes" if message.get("delete_original") else "replaces"
            heading += f", {verb} #{replaced.number}"
        ts = replaced.ts if replaced is not None else payloads.new_ts()
        stored: _Json = {
            "type": "message",
            "user": self._fake.bot.user_id,
            "bot_id": self._fake.bot.bot_id,
            "ts": ts,
            "text": message.get("text", ""),
            "blocks": message.get("blocks", []),
        }
        self._add(rendered, heading, stored, ts)

    def _add(
        self,
        rendered: Rendered,
        heading: str,
        stored: _Json,
        ts: str,
        *,
        unfurl_url: str | None = None,
        home: bool = False,
    ) -> Shown:
        """Print `rendered` with the next number and `heading`, and keep it for clicks."""
        shown = Shown(len(self._shown) + 1, rendered, stored, ts, unfurl_url=unfurl_url, home=home)
        self._shown.append(shown)
        self._say(f"#{shown.number} {heading}\n{indent(rendered.body, '    ')}")
        return shown

    def _say(self, text: str) -> None:
        # A message that arrives while the person is typing goes on its own lines, and the
        # prompt comes back after it.
        if self._reading:
            self._out.write("\n")
        self._out.write(text + "\n")
        if self._reading:
            editor = self._editor
            self._out.write(PROMPT if editor is None else editor.prompt + editor.typed())
        self._out.flush()


async def stdin_lines(stream: TextIO = sys.stdin) -> AsyncIterator[str]:
    """The lines of `stream`, for a terminal or a pipe, without blocking the event loop.

    A daemon thread does the blocking reads, so an interrupted program exits at once instead
    of waiting for one more line.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in stream:
                loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\n"))
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            return  # the loop closed while this thread waited for input

    threading.Thread(target=pump, name="stdin-lines", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


def _number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ModalError(f"{text or 'nothing'} is not a number") from None


def _ack_message(body: str) -> _Json:
    """An ack body as Slack reads it: a JSON message, or else plain text."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"text": body}
    return parsed if isinstance(parsed, dict) else {"text": body}


def _short(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
