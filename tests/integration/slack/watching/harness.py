"""What the watch tests share: a bot with a store whose poller and poster the test drives on a
fake clock, and the check that no channel message holds a preview link.

The bot's own watching (started with its server) polls and posts in the background on the
real clock; the tests stop it at once and drive a poller and a poster of their own over the
same service, store and fake Slack, so that each cycle and each post happens when the test
says, and nothing waits on real time.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.policy import AccessDefault
from bot.access.settings import AccessSettings
from bot.preview.limiter import LimiterSettings
from bot.preview.spaces import SpaceChoice
from bot.slack.admission.channels import ChannelAccess, ChannelDirectory
from bot.slack.edge.pacing import Pacer
from bot.slack.edge.web_api import SlackWebClient
from bot.slack.watching.poller import Poller
from bot.slack.watching.poster import ChangePoster, Clients
from bot.slack.watching.settings import WatchSettings
from bot.standin.cams.catalog import FEATURED, default_catalog
from bot.standin.harness.slack_bot import BOT_TOKEN, Answer, Bot, running_bot
from bot.standin.slack import payloads
from bot.standin.slack.surfaces import Posted
from bot.store.audit import AuditRecord
from bot.store.settings import StoreSettings
from bot.store.store import Store
from bot.store.watches import Watch
from tests.fake_clock import HANG_GUARD_S, FakeClock
from tests.shared.access import ADMIN, MEMBER, OTHER, SPACE

# Sign-up v3, PUBLISHED in cams-demo; Appointment booking, PUBLISHED there too.
FLOW = FEATURED[0]
SECOND = FEATURED[3]
CHANNEL = MEMBER.channel_id
# A member asking in another channel of the workspace, which the bot is in too.
IN_GENERAL = payloads.Who(channel_id="C0GENERAL1", channel_name="general")
# Polls are driven by the tests: the bot's own cycle would come a day later.
QUIET = WatchSettings(poll_s=86_400.0, max_qps=4.0)
# A few flows for a watched space, so that a cycle over it is short.
SMALL_SPACE = FEATURED[:4]
# A budget no test reaches: a fake clock paces polls with no real time passing, so GetFlow's
# real five a second would hold them back (tests of the budget set their own).
ROOMY = LimiterSettings(rate=1000)
# What a preview link holds; none may reach a channel.
BEARER_MARKS = ("token=", "/preview/")
CHANNEL_METHODS = frozenset({"chat.postMessage", "chat.unfurl"})


@asynccontextmanager
async def watching_bot(
    database_url: str,
    *,
    per_channel: int = 200,
    total: int = 5000,
    watch: WatchSettings = QUIET,
    **kwargs: Any,
) -> AsyncIterator[tuple[Bot, Store]]:
    """The bot with a store bounded to `per_channel` and `total` watches, open access rules
    (CAMS_CUST_SPACE_ID=cams-demo, two spaces), a roomy budget unless `limiter` says
    otherwise, and its own watching stopped.

    On the way out, every channel message it posted is checked for a preview link.
    """
    store = Store(
        StoreSettings.from_env({"DATABASE_URL": database_url}),
        max_watches_per_channel=per_channel,
        max_watches=total,
    )
    access = AccessSettings(default=AccessDefault.OPEN, admin_users=frozenset({ADMIN.user_id}))
    kwargs.setdefault("limiter", ROOMY)
    async with running_bot(
        store=store, access=access, default_space=SPACE, watch=watch, **kwargs
    ) as bot:
        bot.service.spaces = (SpaceChoice(SPACE, "Demo"), SpaceChoice(OTHER, "Acme"))
        await _stop_background(bot)
        yield bot, store
    assert_no_bearer_link(bot)


async def _stop_background(bot: Bot) -> None:
    # Its first cycle may be under way: stopping cancels it and drops the lease, so the test's
    # own poller takes it.
    watching = bot.watching
    assert watching is not None
    await watching.stop()


def assert_no_bearer_link(bot: Bot) -> None:
    """No message the bot sent to a channel holds a preview link or any part of one."""
    for call in bot.slack.api_calls:
        if call.method in CHANNEL_METHODS:
            text = json.dumps(dict(call.params))
            for mark in BEARER_MARKS:
                assert mark not in text, f"{call.method} holds {mark!r}: {text}"


def slack_clients(bot: Bot, token: str = BOT_TOKEN) -> Clients:
    """The poster's `clients`: a Web API client on the fake Slack with `token` (the bot's)."""
    client = SlackWebClient(token=token, base_url=bot.slack.api_url)

    async def clients(_team_id: str) -> AsyncWebClient | None:
        return client

    return clients


@dataclass
class Rig:
    """A bot and a poller and poster of the test's own: the poller on `clock`, the poster's
    pacing on `post_clock`."""

    bot: Bot
    store: Store
    clock: FakeClock
    post_clock: FakeClock
    poller: Poller
    poster: ChangePoster

    async def cycle(self) -> None:
        """One poll of every watched flow, over the space's flows as CAMS lists them now."""
        await relist(self.bot)
        await self.poller.cycle()

    async def post(self) -> list[Posted]:
        """Post what is pending (a few batches at most); the messages posted."""
        before = len(self.bot.slack.posts)
        for _ in range(5):
            if not await self.poster.post_pending():
                break
        return self.bot.slack.posts[before:]

    async def poll_and_post(self) -> list[Posted]:
        """A cycle, then what was posted: the changes it found, and any word of a pause."""
        before = len(self.bot.slack.posts)
        await self.cycle()
        await self.post()
        return self.bot.slack.posts[before:]

    async def command(self, text: str, who: payloads.Who = MEMBER) -> str:
        """`/flowpreview text` as `who`: the ack's JSON as text."""
        answer = await self.bot.command(text, who=who)
        return ack_text(answer[0])

    async def watches(self, who: payloads.Who = MEMBER) -> list[Watch]:
        """The watches of `who`'s channel."""
        return await self.store.watches.for_channel(who.team_id, who.channel_id)

    async def records(self) -> list[AuditRecord]:
        """The audit trail, oldest first."""
        assert await self.store.audit.flush(HANG_GUARD_S)
        return list(reversed(await self.store.audit.query()))


def ack_text(answer: Answer) -> str:
    """An ack's JSON as text, once it is known to be one."""
    assert answer.status == 200, answer.body
    return json.dumps(answer.json(), ensure_ascii=False)


def poster_of(bot: Bot, store: Store, clock: FakeClock, token: str = BOT_TOKEN) -> ChangePoster:
    """A poster on the fake Slack with `token`, paced as the bot's is, on `clock`, checking
    as the bot's does that a channel may still see a space."""
    return ChangePoster(
        store.watches,
        slack_clients(bot, token),
        trail=store.audit,
        pacer=Pacer(60, burst=1, max_wait=60.0, clock=clock.time, sleep=clock.sleep),
        channels=ChannelAccess(bot.gate, ChannelDirectory(), bot.service.client.space_for),
    )


def rig_of(
    bot: Bot, store: Store, *, settings: WatchSettings = QUIET, clock: FakeClock | None = None
) -> Rig:
    """A poller and a poster over `bot`'s service, store and fake Slack, on fake clocks whose
    sleeps move them (nothing waits on real time) unless `clock` says otherwise."""
    clock = clock or FakeClock(1000.0, sleep_advances=True)
    post_clock = FakeClock(1000.0, sleep_advances=True)
    poster = poster_of(bot, store, post_clock)
    assert bot.watching is not None
    poller = Poller(
        bot.service,
        store.watches,
        settings,
        holder=bot.watching.poller.holder,
        notify=poster.notify_paused,
        clock=clock.time,
        sleep=clock.sleep,
    )
    return Rig(bot, store, clock, post_clock, poller, poster)


@asynccontextmanager
async def rig(database_url: str, **kwargs: Any) -> AsyncIterator[Rig]:
    """`watching_bot(database_url, **kwargs)` with a poller and a poster on a fake clock."""
    settings = kwargs.get("watch", QUIET)
    async with watching_bot(database_url, **kwargs) as (bot, store):
        yield rig_of(bot, store, settings=settings)


def small_space(bot: Bot) -> None:
    """Let cams-demo hold SMALL_SPACE only, so that a space watch polls a few flows."""
    catalog = default_catalog()
    catalog[SPACE] = list(SMALL_SPACE)
    bot.cams.emulator.set_catalog(catalog)


async def relist(bot: Bot) -> None:
    """Make the catalog's copy of cams-demo what CAMS lists now, as a refresh after its ttl
    would: a watched space's flows come from that copy."""
    catalog = bot.service.catalog
    ttl, catalog.ttl = catalog.ttl, 0.0
    try:
        # The first waits out a refresh already under way (it may have listed before the
        # test's change); the second is one that starts now.
        await catalog.refreshed(SPACE)
        await catalog.refreshed(SPACE)
    finally:
        catalog.ttl = ttl


def text_of(posted: Posted) -> str:
    """A posted message as text."""
    return json.dumps(posted.message, ensure_ascii=False)
