"""The terminal's side of watches: the messages the bot posts in the person's channel (a watched
flow's change of status) are printed as they arrive, with numbered buttons; and, when the bot
and the emulator run in this process, `status` changes a flow's status in the emulator and
`poll` has the bot poll its watched flows at once, instead of at its next poll.

A click on a posted message's button (`click N`) is the terminal's own: it sends the message as
posted, as Slack does for a message the channel sees.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from bot.errors import FlowpreviewError
from bot.slack.watching.runner import Watching
from bot.standin.cams.flows import FlowState
from bot.standin.cams.server import Emulator
from bot.standin.cams.statuses import REMOVED
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack
from bot.standin.slack.mrkdwn import Viewer
from bot.standin.slack.payloads import Who
from bot.standin.slack.render_text import render_message
from bot.standin.slack.surfaces import Posted
from bot.standin.slack.terminal_surfaces import SPACE_PREFIX, Screen

STATUS_USAGE = "Usage: status <flow ID> <STATUS or removed> [space:ID]"
NOT_LOCAL = (
    "{verb} works when the demo runs the bot and the emulator itself, not with --bot: "
    "change a status through the emulator's control route instead."
)

_Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class LocalWatching:
    """The emulator and the bot's watching, when both run in this process: what `status` and
    `poll` drive."""

    emulator: Emulator
    watching: Watching


class WatchVerbs:
    """Prints what the bot posts in `who`'s channel, and runs `status` and `poll` on `local`
    (None when the bot runs elsewhere); notifies `changed` when a message arrived."""

    def __init__(
        self,
        fake: FakeSlack,
        who: Who,
        viewer: Viewer,
        screen: Screen,
        changed: asyncio.Condition,
        *,
        local: LocalWatching | None,
    ) -> None:
        self._fake = fake
        self._who = who
        self._viewer = viewer
        self._screen = screen
        self._say = screen.say
        self._changed = changed
        self._local = local
        self._posts: asyncio.Queue[Posted] | None = None
        self._printed = 0

    @contextlib.asynccontextmanager
    async def following(self) -> AsyncIterator[None]:
        """Print the messages the bot posts while in use."""
        with self._fake.subscribe_posts() as posts:
            self._posts = posts
            printer = asyncio.create_task(self._print_all(posts))
            try:
                yield
            finally:
                self._posts = None
                printer.cancel()
                await asyncio.wait([printer])

    async def settled(self) -> None:
        """Return once every message the fake took so far is printed."""
        if self._posts is not None:
            await self._posts.join()

    @property
    def arrivals(self) -> int:
        """How many posted messages were printed."""
        return self._printed

    async def status(self, rest: str) -> None:
        """`status <flow ID> <STATUS|removed> [space:ID]`: change the flow in the emulator."""
        local = self._local
        if local is None:
            self._say(NOT_LOCAL.format(verb="status"))
            return
        words = rest.split()
        spaces = [word for word in words if word.lower().startswith(SPACE_PREFIX)]
        words = [word for word in words if word not in spaces]
        if len(words) != 2 or len(spaces) > 1:
            self._say(STATUS_USAGE)
            return
        flow_id, status = words
        space = spaces[0][len(SPACE_PREFIX) :] if spaces else None
        try:
            before = local.emulator.flow_state(flow_id, space)
            watched = await self._look_first(local, before)
            if status == REMOVED:
                after = local.emulator.remove_flow(flow_id, before.space)
            else:
                after = local.emulator.set_status(flow_id, status, before.space)
        except FlowpreviewError as error:
            self._say(f"status: {error}.")
            return
        self._say(
            f"(the emulator: flow {flow_id} {before.flow.name!r} in space {after.space} went "
            f"{_status(before)} → {_status(after)}; GetFlow says so from now on)"
        )
        if watched:
            poll_s = local.watching.poller.settings.poll_s
            self._say(f"(the bot sees it at its next poll, within {poll_s:g} s; poll looks now)")
        else:
            self._say(f"(no channel watches it: /flowpreview watch {flow_id} first, to hear of it)")

    async def poll(self, rest: str) -> None:
        """`poll`: one cycle of the bot's poller at once, then post what it found."""
        local = self._local
        if local is None:
            self._say(NOT_LOCAL.format(verb="poll"))
            return
        if rest:
            self._say("Usage: poll")
            return
        watching = local.watching
        await watching.poller.cycle()
        posted = 0
        while claimed := await watching.poster.post_pending():
            posted += claimed
        # Printed before the next command, which may click one of them.
        await self.settled()
        messages = "no message" if posted == 0 else f"{posted} message{'s' * (posted > 1)}"
        self._say(f"(the bot polled every watched flow once, and posted {messages})")

    async def _look_first(self, local: LocalWatching, state: FlowState) -> bool:
        """Whether a channel watches the flow; if the bot has not polled it since, poll now.

        Its next poll would have learnt the status before the change, had the person taken
        longer than a poll to type: without it, the first status seen is the new one, and a
        first look is no change.
        """
        watches = local.watching.poller.watches
        flow_id = state.flow.flow_id
        watched = any(
            watch.space_id == state.space and watch.flow_id in (None, flow_id)
            for watch in await watches.active()
        )
        if not watched:
            return False
        known = (await watches.known(state.space)).get(flow_id)
        if known is None or known[1] is None:
            self._say("(the bot has not polled that flow since it was watched: it does now)")
            await local.watching.poller.cycle()
        return True

    async def _print_all(self, posts: asyncio.Queue[Posted]) -> None:
        while True:
            posted = await posts.get()
            try:
                await self._print(posted)
            finally:
                posts.task_done()

    async def _print(self, posted: Posted) -> None:
        if posted.channel != self._who.channel_id:
            return
        message = posted.message
        rendered = render_message({**message, "response_type": "in_channel"}, self._viewer)
        where = self._viewer.names.get(posted.channel, posted.channel)
        heading = f"{rendered.marker} posted by the bot in #{where}"
        if message.get("thread_ts"):
            heading += ", a reply in a thread"
        ts = payloads.new_ts()
        stored: _Json = {
            "type": "message",
            "user": self._fake.bot.user_id,
            "bot_id": self._fake.bot.bot_id,
            **message,
            "ts": ts,
        }
        self._screen.show(rendered, heading, stored, ts)
        self._printed += 1
        async with self._changed:
            self._changed.notify_all()


def _status(state: FlowState) -> str:
    return REMOVED if state.removed else state.status
