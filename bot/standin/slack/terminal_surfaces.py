"""The terminal's commands for Slack's surfaces beyond response_urls and modals: `paste` a
message whose flow links the bot unfurls as cards, open the app's Home tab (`home`) and search
it, click its buttons, and run the app's workflow step (`step`).

`SurfaceVerbs` sends each as the event or action Slack would send, and follows the fake Slack:
the cards unfurled into a message the person pasted, their Home tab, the ephemeral messages
the bot posts to them and the completions of their steps are printed as they arrive, and
counted, so that the command that caused one waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from bot.slack.constants import STEP_CALLBACK_ID, UNFURL_DOMAIN
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack
from bot.standin.slack.mrkdwn import Viewer
from bot.standin.slack.payloads import Who
from bot.standin.slack.render_text import Button, Rendered, render_message
from bot.standin.slack.surfaces import FunctionResult, Published, Unfurl

# How long a command waits for the card of a pasted link, for the Home tab to be published
# (or a modal to open from it), and for a step to complete.
UNFURL_WAIT_S = 5.0
HOME_WAIT_S = 5.0
STEP_WAIT_S = 30.0
SPACE_PREFIX = "space:"
HOME_MARKER = "(your Home tab)"
# The fake offers no queue of its own for ephemeral messages and step completions, only an
# await of the next one: the watcher looks again after each, or after this long.
_LOOK_AGAIN_S = 60.0

_Json = dict[str, Any]
_Item = TypeVar("_Item")


@dataclass(slots=True)
class Shown:
    """Something printed with a number, that buttons may be clicked on: a message, the card
    unfurling `unfurl_url` in the message `ts`, or the Home tab (`home`)."""

    number: int
    rendered: Rendered
    # As Slack stores it: the message (for block_actions payloads on channel messages), the
    # card's attachment, or the Home view.
    stored: _Json
    ts: str
    gone: bool = False
    unfurl_url: str | None = None
    home: bool = False


class Show(Protocol):
    """How the terminal prints something with a number, under `heading`."""

    def __call__(
        self,
        rendered: Rendered,
        heading: str,
        stored: _Json,
        ts: str,
        *,
        unfurl_url: str | None = None,
        home: bool = False,
    ) -> Shown:
        """Print `rendered` and keep it for clicks."""
        ...


@dataclass(frozen=True, slots=True)
class Screen:
    """What the commands use of the terminal: print a line (`say`) or something clickable
    (`show`); `post` a signed request to the bot (its ack, or None after saying what went
    wrong; `wait` then waits on the response_url, if any); wait `until` something arrived;
    count the modals `opened`; and have `wait` wait for the latest one's update
    (`follow_modal`)."""

    say: Callable[[str], None]
    show: Show
    post: Callable[[bytes, str, str | None], Awaitable[str | None]]
    until: Callable[[Callable[[], bool], float], Awaitable[bool]]
    opened: Callable[[], int]
    follow_modal: Callable[[], None]


class SurfaceVerbs:
    """`paste`, `home` and `step` for `who`, and clicks in their Home tab; prints what the bot
    does on these surfaces, and notifies `changed` when something arrived."""

    def __init__(
        self,
        fake: FakeSlack,
        who: Who,
        viewer: Viewer,
        screen: Screen,
        changed: asyncio.Condition,
    ) -> None:
        self._fake = fake
        self._who = who
        self._viewer = viewer
        self._screen = screen
        self._show = screen.show
        self._say = screen.say
        self._changed = changed
        # The person's pasted messages by ts (only their cards are shown), and those unfurled.
        self._pasted: dict[str, Shown] = {}
        self._unfurled: set[str] = set()
        # Their step executions (ID to the command), and those completed.
        self._steps: dict[str, str] = {}
        self._completed: set[str] = set()
        self._published = 0
        self._ephemerals = 0
        self._home: Shown | None = None
        self._ephemerals_seen = len(fake.ephemerals)
        self._results_seen = len(fake.function_results)
        self._queues: list[asyncio.Queue[Any]] = []

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Print what arrives while in use."""
        fake = self._fake
        with fake.subscribe_unfurls() as unfurls, fake.subscribe_publishes() as publishes:
            self._queues = [unfurls, publishes]
            printers = [
                asyncio.create_task(_drain(unfurls, self._print_unfurl)),
                asyncio.create_task(_drain(publishes, self._print_publish)),
                asyncio.create_task(_follow(fake.next_ephemeral, self._print_ephemerals)),
                asyncio.create_task(_follow(fake.next_function_result, self._print_results)),
            ]
            try:
                yield
            finally:
                self._queues = []
                for printer in printers:
                    printer.cancel()
                await asyncio.wait(printers)

    async def settled(self) -> None:
        """Return once everything the fake took so far is printed."""
        for queue in self._queues:
            await queue.join()
        await self._print_ephemerals()
        await self._print_results()

    @property
    def arrivals(self) -> int:
        """How many cards, Home views, ephemeral messages and step completions arrived."""
        return len(self._unfurled) + self._published + self._ephemerals + len(self._completed)

    async def paste(self, text: str) -> None:
        """Post a message with `text` in the person's channel; wait for its flow links' cards."""
        if not text:
            self._say("Usage: paste <message text with a flow link>")
            return
        message = payloads.message_from_text(text, who=self._who)
        ts = str(message["ts"])
        posted = {"response_type": "in_channel", "text": message["text"]}
        rendered = render_message(posted, self._viewer)
        pasted = self._show(rendered, f"{rendered.marker} you posted", message, ts)
        links = unfurled_links(message)
        if not links:
            return
        self._pasted[ts] = pasted
        event = payloads.link_shared(links, who=self._who, message_ts=ts)
        if await self._screen.post(self._event(event), "paste", None) is None:
            return
        if not await self._screen.until(lambda: ts in self._unfurled, UNFURL_WAIT_S):
            self._say(f"(no card for the links of #{pasted.number} in {UNFURL_WAIT_S:g} s)")

    async def home(self, rest: str) -> None:
        """`home`: open the Home tab; `home search [WORDS]`: search it."""
        verb, _, words = rest.partition(" ")
        if verb == "search":
            await self._search(words.strip())
        elif verb:
            self._say("Usage: home, or home search [WORDS]")
        else:
            await self._open_home()

    async def click_home(self, shown: Shown, button: Button, label: str) -> None:
        """Click `button` of the Home tab `shown`."""
        trigger_id = self._fake.new_trigger_id()
        element = {**button.element, "block_id": button.block_id}
        body = payloads.home_block_actions(
            element, view=shown.stored, who=self._who, trigger_id=trigger_id
        )
        await self._in_home(body, label)

    async def step(self, typed: str) -> None:
        """Run the workflow step for `<flow> [space:ID]`; wait for its outputs or error."""
        inputs = step_inputs(typed, self._who)
        if inputs is None:
            self._say("Usage: step <flow ID, link or name> [space:ID]")
            return
        execution_id, token = self._fake.new_function_execution()
        label = f"step {typed}"
        self._steps[execution_id] = label
        event = payloads.function_executed(
            STEP_CALLBACK_ID, inputs, execution_id=execution_id, token=token, who=self._who
        )
        if await self._screen.post(self._event(event), label, None) is None:
            return
        if not await self._screen.until(lambda: execution_id in self._completed, STEP_WAIT_S):
            self._say(f"! {label}: the step did not complete in {STEP_WAIT_S:g} s.")

    async def _open_home(self) -> None:
        stored = self._fake.home_views.get((self._who.team_id, self._who.user_id))
        published = self._published
        event = payloads.app_home_opened(who=self._who, view=stored)
        if await self._screen.post(self._event(event), "home", None) is None:
            return
        if await self._screen.until(lambda: self._published > published, HOME_WAIT_S):
            return
        # Slack shows the tab as last published when the app publishes no new one.
        if stored is None:
            self._say(f"(the bot published no Home tab in {HOME_WAIT_S:g} s)")
        else:
            self._show_home(stored, "as last published")

    async def _search(self, words: str) -> None:
        home = self._home
        if home is None:
            self._say("The Home tab is not open; type home to open it.")
            return
        action = search_action(home.stored, words)
        if action is None:
            self._say(f"#{home.number}: the Home tab has no search box.")
            return
        trigger_id = self._fake.new_trigger_id()
        body = payloads.home_block_actions(
            action, view=home.stored, who=self._who, trigger_id=trigger_id
        )
        await self._in_home(body, f"home search {words}".strip())

    async def _in_home(self, body: bytes, label: str) -> None:
        """Send an action in the Home tab; wait for the tab published anew or a modal."""
        published, opened = self._published, self._screen.opened()
        if await self._screen.post(body, label, None) is None:
            return
        if not await self._screen.until(
            lambda: self._published > published or self._screen.opened() > opened, HOME_WAIT_S
        ):
            self._say(f"(nothing came of {label} in {HOME_WAIT_S:g} s)")
        elif self._screen.opened() > opened:
            self._screen.follow_modal()

    def _event(self, event: Mapping[str, Any]) -> bytes:
        return payloads.event_callback(event, who=self._who)

    def _show_home(self, view: Mapping[str, Any], how: str) -> None:
        """Print the Home view `view` (as Slack stores it) in place of the one shown before."""
        rendered = render_message({"blocks": view.get("blocks") or []}, self._viewer)
        heading = f"{HOME_MARKER} {how}"
        previous = self._home
        if previous is not None and not previous.gone:
            previous.gone = True
            heading += f", replaces #{previous.number}"
        self._home = self._show(rendered, heading, dict(view), "", home=True)

    async def _print_unfurl(self, unfurl: Unfurl) -> None:
        pasted = self._pasted.get(unfurl.ts or "")
        if pasted is None or unfurl.channel != self._who.channel_id:
            return
        for url, attachment in unfurl.unfurls.items():
            blocks = attachment.get("blocks") if isinstance(attachment, dict) else None
            card: _Json = {"response_type": "in_channel", "blocks": blocks or []}
            rendered = render_message(card, self._viewer)
            # Not the link: were it a preview link, its token would be printed once more.
            heading = f"{rendered.marker} card unfurling a link of #{pasted.number}"
            self._show(rendered, heading, {"blocks": card["blocks"]}, pasted.ts, unfurl_url=url)
        self._unfurled.add(pasted.ts)
        await self._notify()

    async def _print_publish(self, published: Published) -> None:
        if (published.team_id, published.user_id) != (self._who.team_id, self._who.user_id):
            return
        self._show_home(published.view, "published by the bot")
        self._published += 1
        await self._notify()

    async def _print_ephemerals(self) -> None:
        new = self._fake.ephemerals[self._ephemerals_seen :]
        self._ephemerals_seen += len(new)
        for ephemeral in new:
            if ephemeral.user != self._who.user_id:
                continue
            rendered = render_message(ephemeral.message, self._viewer)
            where = self._viewer.names.get(ephemeral.channel, ephemeral.channel)
            heading = f"{rendered.marker} posted by the bot in #{where}"
            stored = {"type": "message", **ephemeral.message}
            self._show(rendered, heading, stored, payloads.new_ts())
            self._ephemerals += 1
        if new:
            await self._notify()

    async def _print_results(self) -> None:
        new = self._fake.function_results[self._results_seen :]
        self._results_seen += len(new)
        for result in new:
            label = self._steps.get(result.execution_id)
            if label is not None:
                self._say(step_result(label, result))
                self._completed.add(result.execution_id)
        if new:
            await self._notify()

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()


async def _drain(queue: asyncio.Queue[_Item], handle: Callable[[_Item], Awaitable[None]]) -> None:
    while True:
        item = await queue.get()
        try:
            await handle(item)
        finally:
            queue.task_done()


async def _follow(
    arrival: Callable[..., Awaitable[object]], look: Callable[[], Awaitable[None]]
) -> None:
    while True:
        with contextlib.suppress(TimeoutError):
            await arrival(within=_LOOK_AGAIN_S)
        await look()


def unfurled_links(message: Mapping[str, Any]) -> list[str]:
    """The links of `message` (as payloads.message_from_text makes it) that Slack would name
    in a link_shared event: those on the app's unfurl domain or a subdomain of it."""
    found: list[str] = []

    def visit(node: object) -> None:
        if isinstance(node, Mapping):
            url = node.get("url")
            if node.get("type") == "link" and isinstance(url, str) and _unfurled(url):
                found.append(url)
            visit(node.get("elements"))
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(message.get("blocks"))
    return list(dict.fromkeys(found))


def _unfurled(url: str) -> bool:
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return False
    return host == UNFURL_DOMAIN or host.endswith("." + UNFURL_DOMAIN)


def step_inputs(typed: str, who: Who) -> _Json | None:
    """The step's inputs for `<flow> [space:ID]` run for `who`; None without a flow."""
    words = typed.split()
    spaces = [word for word in words if word.lower().startswith(SPACE_PREFIX)]
    flow = " ".join(word for word in words if word not in spaces)
    if not flow:
        return None
    inputs: _Json = {"flow": flow, "user": who.user_id}
    if spaces:
        # Workflow Builder hands the step one space; the last one written wins.
        inputs["space"] = spaces[-1][len(SPACE_PREFIX) :]
    return inputs


def step_result(label: str, result: FunctionResult) -> str:
    """How a completed step shows: its outputs one per line, or why it failed."""
    if result.outputs is None:
        return f"{label}: the step failed: {result.error}"
    lines = [f"    {name}: {_output(value)}" for name, value in result.outputs.items()]
    return "\n".join([f"{label}: the step completed with these outputs:", *lines])


def _output(value: object) -> str:
    """An output as text; an empty one as `""`, so that it shows."""
    return value if isinstance(value, str) and value else json.dumps(value, ensure_ascii=False)


def search_action(view: Mapping[str, Any], words: str) -> _Json | None:
    """The dispatched search box of the Home `view`, with `words` typed and Enter pressed;
    None when the view has no such box."""
    for block in view.get("blocks") or []:
        if not isinstance(block, Mapping) or not block.get("dispatch_action"):
            continue
        element = block.get("element")
        if isinstance(element, Mapping) and element.get("type") == "plain_text_input":
            return {**element, "block_id": block.get("block_id", ""), "value": words}
    return None
