"""Link unfurls and the Home tab: `python -m bot serve` beside bare Bolt, timed to Slack's receipt.

Both are processes of their own (bench/bare_bolt.py), installed in the same workspaces, which
the samples take in turn so that the bot's chat.unfurl pacing never holds one back.
1. A signed `link_shared` until the fake Slack receives its `chat.unfurl`, in a channel seen
before and in a new one, with the catalog and the flows' GetFlow details warm; bare Bolt sends
a static card at once. 2. A signed `app_home_opened` until Slack receives its `views.publish`,
for people with 10 recent previews and 20 pins, on their first open and again after the
debounce; bare Bolt publishes a static view as large. Every answer is checked. Targets: p99 <=
50 ms for both.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from yarl import URL

from bench.common import (
    HOST,
    MS,
    SIGNING_SECRET,
    SLACK_TIMEOUT,
    CpuMeter,
    CpuUse,
    Server,
    Target,
    finish,
    fixed,
    markdown_table,
    measured,
    parser,
    percentile,
    positive_int,
    progress,
    quantiles,
    running_server,
    server_env,
    share,
    target,
    targets_table,
)
from bot.access.rules import RuleBook
from bot.preview.spaces import SpaceChoice
from bot.slack.answers.home_tab import DEBOUNCE_S
from bot.slack.blocks import modals
from bot.slack.blocks.messages import STATUS_WORDS, quote
from bot.slack.constants import (
    HOME_PIN_ACTION_ID,
    HOME_PREVIEW_ACTION_ID,
    HOME_UNPIN_ACTION_ID,
    PICKER_FLOW_ACTION_ID,
    PICKER_FLOW_BLOCK_ID,
)
from bot.slack.edge.pacing import DEFAULT_BURST
from bot.slack.parsing import clip
from bot.standin.cams.catalog import DEMO_SPACE, SeededFlow, default_catalog
from bot.standin.harness.processes import controlled_emulator
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.oauth import CLIENT_ID, CLIENT_SECRET, FakeOAuth, Workspace
from bot.standin.slack.payloads import Who
from bot.standin.slack.signing import signed_headers
from bot.standin.slack.surfaces import ChannelInfo
from bot.store.audit import AuditOutcome, AuditRecord
from bot.store.engine import WRITE_LOCK
from bot.store.settings import StoreSettings
from bot.store.store import Store

T = TypeVar("T")
S = TypeVar("S")
Sample = tuple[float, str | None]

FLOWPREVIEW = "flowpreview"
BARE = "bare Bolt"
DISTRIBUTIONS = ("slack-bolt", "slack-sdk")
P99_TARGET_MS = 50.0
RECENT = 10
PINNED = 20
# Pacer calls one workspace gets in the whole run: below its burst, so no call waits its turn.
CALLS_PER_WORKSPACE = DEFAULT_BURST - 2
# Unmeasured events sent to bare Bolt before it is timed, as flowpreview had its warm-up.
BARE_WARM = 20
# Slack shows an error after 3 s; a call that has not come by then is a failed sample.
ARRIVAL_S = 3.0
CATALOG_WAIT_S = 30.0
# Past the debounce, for the clocks of two processes.
DEBOUNCE_MARGIN_S = 0.5
# The idle servers and emulator use about 1% of a core; more than this is someone else's load.
OTHERS_WARNING = 0.10
FLOW_LINK = "https://business.facebook.com/wa/manage/flows/{}/"
# What only a preview link holds: never in a card or a Home view.
BEARER_MARK = "token="
# Where the fake's consent screen would send people back; nothing is served there.
REDIRECT_URI = "https://flowpreview.invalid/slack/oauth_redirect"
ROW_HEADERS = (
    "samples | errors | p50 ms | p99 ms | max ms | server CPU ms/event | "
    "other processes' cores busy"
)


@dataclass(frozen=True, slots=True)
class Place:
    """Where an event comes from: the workspace and person (`who`) and the channel."""

    who: Who
    channel: str


@dataclass
class Workspaces:
    """The installed workspaces, and the channels and people made in them, handed out in turn
    so that no workspace gets more of the bot's paced calls than CALLS_PER_WORKSPACE."""

    teams: list[str]
    fake: FakeSlack
    channels: int = 0
    people: int = 0

    def place(self) -> Place:
        """A channel never used before, in the next workspace, known to conversations.info."""
        self.channels += 1
        channel = f"C0BENCH{self.channels:06d}"
        self.fake.channels[channel] = ChannelInfo(name=f"bench-{self.channels}")
        return Place(self._who(self.channels), channel)

    def person(self) -> Who:
        """Someone never seen before, in the next workspace."""
        self.people += 1
        return self._who(self.people, f"U0BENCH{self.people:06d}")

    def _who(self, number: int, user_id: str = payloads.DEFAULT_WHO.user_id) -> Who:
        team = self.teams[number % len(self.teams)]
        return Who(team_id=team, team_domain=team.lower(), user_id=user_id)


@dataclass(frozen=True, slots=True)
class Row:
    """One server's samples of one case: the latencies, what was wrong, and the CPU used."""

    server: str
    case: str
    latencies: list[float]
    errors: list[str]
    cpu: CpuUse

    def latency_ms(self, p: float) -> float:
        """The `p`th percentile latency in milliseconds (failures included, as they waited)."""
        return percentile(self.latencies, p) * MS

    @property
    def met(self) -> bool:
        """Whether every sample was right and the p99 within target."""
        return not self.errors and self.latency_ms(99) <= P99_TARGET_MS

    def cells(self) -> str:
        """Its cells under ROW_HEADERS."""
        server_s = self.cpu.watched_s[0]
        per_event = None if server_s is None else server_s * MS / len(self.latencies)
        latencies = quantiles(self.latencies, 50, 99, 100, scale=MS)
        return (
            f"{len(self.latencies):,} | {len(self.errors):,} | {latencies} | "
            f"{fixed(per_event)} | {share(self.cpu.others_busy)}"
        )


@dataclass
class Sender:
    """Signs and posts events, and times each until the fake Slack receives its call."""

    session: aiohttp.ClientSession
    fake: FakeSlack
    flows: dict[str, SeededFlow]
    # The last card and Home view received, which bare Bolt is given to send.
    card: dict[str, Any] | None = None
    view: dict[str, Any] | None = None
    # Calls received that hold a preview link (must be none).
    bearer_links: int = 0

    async def post(self, server: Server, body: bytes) -> tuple[bytes, str | None]:
        """POST `body`, signed, to the server's events URL: the answer, and what was wrong."""
        headers = signed_headers(SIGNING_SECRET, body)
        try:
            async with self.session.post(server.events_url, data=body, headers=headers) as answer:
                content = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return b"", f"{type(exc).__name__}: {exc}"
        if answer.status != 200:
            return content, f"HTTP {answer.status}: {content[:200]!r}"
        return content, None

    async def _timed(
        self, server: Server, body: bytes, arrival: Callable[[], Awaitable[T]]
    ) -> tuple[float, T | None, str | None]:
        """Post `body`; how long until `arrival()` gave the call Slack received, the call, and
        what was wrong."""
        started = time.perf_counter()
        posting = asyncio.create_task(self.post(server, body))
        arrived: T | None = None
        late = None
        try:
            async with asyncio.timeout(ARRIVAL_S):
                arrived = await arrival()
        except TimeoutError:
            late = f"Slack was not called within {ARRIVAL_S:g} s"
        elapsed = time.perf_counter() - started
        _, refused = await posting
        return elapsed, arrived, refused or late

    async def unfurl(self, server: Server, place: Place, flow_id: str, *, checked: bool) -> Sample:
        """Paste the flow's link in `place`: the time to chat.unfurl, and what was wrong; with
        `checked`, the card must name the flow and its status."""
        url = FLOW_LINK.format(flow_id)
        event = payloads.link_shared([url], who=place.who, channel=place.channel)
        body = payloads.event_callback(event, who=place.who)
        with self.fake.subscribe_unfurls() as arrivals:
            elapsed, unfurl, error = await self._timed(server, body, arrivals.get)
        if unfurl is None or error is not None:
            return elapsed, error
        self.bearer_links += BEARER_MARK in json.dumps(unfurl.unfurls)
        if unfurl.channel != place.channel or list(unfurl.unfurls) != [url]:
            return elapsed, f"unfurled {list(unfurl.unfurls)} in {unfurl.channel}, not {url}"
        self.card = unfurl.unfurls[url]
        if checked:
            blocks = unfurl.unfurls[url].get("blocks") or [{}]
            text = str(blocks[0].get("text", {}).get("text", ""))
            flow = self.flows[flow_id]
            if quote(clip(flow.name, 100)) not in text or STATUS_WORDS[flow.status] not in text:
                return elapsed, f"a card without the flow's name and status: {text!r}"
        return elapsed, None

    async def open_home(self, server: Server, who: Who, *, checked: bool) -> Sample:
        """`who` opens the Home tab: the time to views.publish, and what was wrong; with
        `checked`, the view must list their pins and recent previews by name."""
        body = payloads.event_callback(payloads.app_home_opened(who=who), who=who)
        with self.fake.subscribe_publishes() as arrivals:
            elapsed, published, error = await self._timed(server, body, arrivals.get)
        if published is None or error is not None:
            return elapsed, error
        self.bearer_links += BEARER_MARK in json.dumps(published.view)
        if published.user_id != who.user_id:
            return elapsed, f"published for {published.user_id}, not {who.user_id}"
        self.view = {"type": "home", "blocks": published.view["blocks"]}
        return elapsed, home_problem(published.view) if checked else None


def home_problem(view: dict[str, Any]) -> str | None:
    """What is wrong with a published Home view for a seeded person, if anything."""
    blocks = view.get("blocks", [])
    buttons = [
        element.get("action_id")
        for block in blocks
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]
    pins, recent = buttons.count(HOME_UNPIN_ACTION_ID), buttons.count(HOME_PIN_ACTION_ID)
    if (pins, recent) != (PINNED, RECENT):
        return f"{pins} pins and {recent} recent previews listed, not {PINNED} and {RECENT}"
    rows = [
        str(block["text"]["text"])
        for block in blocks
        if block.get("accessory", {}).get("action_id") == HOME_PREVIEW_ACTION_ID
    ]
    unnamed = [row for row in rows if " · `" not in row]
    if unnamed:
        return f"{len(unnamed)} rows without the flow's name: {unnamed[0]!r}"
    return None


async def measure(
    server: Server, case: str, samples: Sequence[S], one: Callable[[S], Awaitable[Sample]]
) -> Row:
    """`one(sample)` for each of `samples` in turn, with the server's CPU meanwhile."""
    progress(f"{server.name}: {case} ({len(samples)}) ...")
    # What the fake Slack has kept so far is never collected: a full collection of it in
    # this process would be charged to whichever server was being timed.
    gc.collect()
    gc.freeze()
    meter = CpuMeter(server.pid)
    results = [await one(sample) for sample in samples]
    latencies = [elapsed for elapsed, _ in results]
    errors = [error for _, error in results if error is not None]
    return Row(server.name, case, latencies, errors, meter.stop())


async def installed(fake: FakeSlack, team: str) -> Installation:
    """The app installed in workspace `team` as Slack's OAuth would leave it: its bot token
    issued by the fake Slack."""
    oauth = fake.oauth
    assert oauth is not None  # the run's fake Slack has OAuth
    workspace = Workspace(team, team_name=team, team_domain=team.lower())
    authorize = URL(fake.url).with_path("/oauth/v2/authorize").with_query(client_id=CLIENT_ID)
    back = URL(oauth.approve(str(authorize), workspace, redirect_uri=REDIRECT_URI))
    code = {"code": back.query["code"], "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    answer = await oauth.access(code, None)
    return Installation(
        app_id=answer["app_id"],
        team_id=team,
        team_name=team,
        bot_token=answer["access_token"],
        bot_id=workspace.bot_id,
        bot_user_id=workspace.bot_user_id,
        bot_scopes=answer["scope"],
        user_id=workspace.installer_id,
        installed_at=time.time(),
    )


async def prepare(
    database_url: str,
    fake: FakeSlack,
    teams: Sequence[str],
    people: Sequence[Who],
    home: Sequence[str],
) -> None:
    """Before the servers start: the workspaces installed and let use the demo space, and each
    of `people` given PINNED pins and RECENT recent previews of the flows `home`."""
    store = Store(StoreSettings.from_env({"DATABASE_URL": database_url}))
    await store.start()
    try:
        # As the bot keeps them: each transaction takes SQLite's write lock first, since the
        # audit trail's purge may be writing too.
        locking = store.sqlalchemy_engine().execution_options(**{WRITE_LOCK: True})
        installations = AsyncSQLAlchemyInstallationStore(client_id=CLIENT_ID, engine=locking)
        book = RuleBook(store.database, known=[DEMO_SPACE])
        for team in teams:
            await installations.async_save(await installed(fake, team))
            await book.bind(team, DEMO_SPACE)
        now = datetime.now(UTC)
        for who in people:
            for flow_id in home[:PINNED]:
                await store.pins.pin(who.team_id, who.user_id, flow_id, None)
            for minutes, flow_id in enumerate(home[PINNED : PINNED + RECENT]):
                at = now - timedelta(minutes=minutes + 1)
                store.audit.record(
                    AuditRecord(
                        at,
                        who.team_id,
                        who.channel_id,
                        who.user_id,
                        flow_id,
                        DEMO_SPACE,
                        AuditOutcome.GIVEN,
                    )
                )
        if not await store.audit.flush(60.0):
            raise RuntimeError("the seeded audit records were not written within 60 s")
    finally:
        await store.close()


async def warm_catalog(sender: Sender, server: Server, who: Who) -> None:
    """Until the bot's picker lists flows: its catalog of the demo space is loaded."""
    view = {"id": "VBENCHPICKER", **modals.picker_view((SpaceChoice(DEMO_SPACE, DEMO_SPACE),))}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CATALOG_WAIT_S
    while True:
        body = payloads.block_suggestion(
            view, block_id=PICKER_FLOW_BLOCK_ID, action_id=PICKER_FLOW_ACTION_ID, value="", who=who
        )
        content, error = await sender.post(server, body)
        if error is None:
            options = json.loads(content).get("options", [])
            if any(modals.picked_flow(str(option.get("value"))) for option in options):
                return
        if loop.time() > deadline:
            raise RuntimeError(f"the bot listed no flows within {CATALOG_WAIT_S:g} s: {error}")
        await asyncio.sleep(0.2)


async def must(work: Awaitable[Sample]) -> None:
    """Await a warm-up step, which must succeed."""
    _, error = await work
    if error is not None:
        raise RuntimeError(f"warming up failed: {error}")


@dataclass(frozen=True, slots=True)
class Measured:
    """Both surfaces' rows, the checks on them, and how long it took."""

    unfurls: list[Row]
    homes: list[Row]
    upstream_calls: int
    bearer_links: int
    home_blocks: int
    workspaces: int
    wall_s: float

    def row(self, rows: Sequence[Row], server: str, case: str | None = None) -> Row:
        """The row of `server` (and `case`) among `rows`."""
        return next(r for r in rows if r.server == server and case in (None, r.case))


SEEN, NEW = "channel seen before", "new channel"
FIRST, AGAIN = "first open", "opened again after the debounce"
STATIC_CARD, STATIC_VIEW = "static card", "static view"


@dataclass
class Bench:
    """One run's setup: the sender, the workspaces and people, the flows."""

    args: argparse.Namespace
    sender: Sender
    spaces: Workspaces
    # people[0] warms up; then flowpreview's, then bare Bolt's, --people each.
    people: list[Who]
    # The flows unfurled in turn, and the one that warms the seen channels first.
    unfurled: list[str]
    warm_flow: str
    directory: Path

    def flow(self, at: int) -> str:
        """The flow of the `at`th sample."""
        return self.unfurled[at % len(self.unfurled)]

    def places(self) -> list[Place]:
        """--samples channels never used before."""
        return [self.spaces.place() for _ in range(self.args.samples)]

    async def warm_up(self, ours: Server) -> list[Place]:
        """The bot's catalog, every flow's details, and channels seen before (returned)."""
        sender = self.sender
        await warm_catalog(sender, ours, self.people[0])
        for flow_id in [*self.unfurled, self.warm_flow]:
            await must(sender.unfurl(ours, self.spaces.place(), flow_id, checked=True))
        seen = self.places()
        for place in seen:
            await must(sender.unfurl(ours, place, self.warm_flow, checked=True))
        await must(sender.open_home(ours, self.people[0], checked=True))
        return seen

    async def bare_command(self, port: str) -> list[str]:
        """bare Bolt's command line, answering with flowpreview's last card and view."""
        command = ["-m", "bench.bare_bolt", "--port", port]
        for option, name, content in (
            ("--unfurl-card", "card.json", self.sender.card),
            ("--home-view", "view.json", self.sender.view),
        ):
            path = self.directory / name
            await asyncio.to_thread(path.write_text, json.dumps(content))
            command += [option, str(path)]
        return command

    async def unfurl_rows(self, ours: Server, bare: Server, seen: Sequence[Place]) -> list[Row]:
        """Unfurls by flowpreview in seen channels, by bare Bolt, by flowpreview in new ones."""
        sender = self.sender
        for _ in range(BARE_WARM):
            await must(sender.unfurl(bare, self.spaces.place(), self.flow(0), checked=False))
        return [
            await measure(
                ours,
                SEEN,
                list(enumerate(seen)),
                lambda s: sender.unfurl(ours, s[1], self.flow(s[0]), checked=True),
            ),
            await measure(
                bare,
                STATIC_CARD,
                self.places(),
                lambda place: sender.unfurl(bare, place, self.flow(0), checked=False),
            ),
            await measure(
                ours,
                NEW,
                list(enumerate(self.places())),
                lambda s: sender.unfurl(ours, s[1], self.flow(s[0]), checked=True),
            ),
        ]

    async def home_rows(self, ours: Server, bare: Server) -> list[Row]:
        """flowpreview's first opens, bare Bolt's, then flowpreview's again after the
        debounce (bare Bolt's measured while it passes)."""
        sender, count = self.sender, self.args.people
        for _ in range(BARE_WARM):
            await must(sender.open_home(bare, self.people[0], checked=False))
        mine, theirs = self.people[1 : count + 1], self.people[count + 1 :]
        loop = asyncio.get_running_loop()
        first = await measure(
            ours, FIRST, mine, lambda who: sender.open_home(ours, who, checked=True)
        )
        debounced = loop.time() + DEBOUNCE_S + DEBOUNCE_MARGIN_S
        static = await measure(
            bare, STATIC_VIEW, theirs, lambda who: sender.open_home(bare, who, checked=False)
        )
        await asyncio.sleep(max(0.0, debounced - loop.time()))
        again = await measure(
            ours, AGAIN, mine, lambda who: sender.open_home(ours, who, checked=True)
        )
        return [first, again, static]


async def run(args: argparse.Namespace) -> Measured:
    """Start the emulator and the fake Slack; install, seed; start both servers; measure."""
    flows = {seeded.summary.flow_id: seeded for seeded in default_catalog()[DEMO_SPACE]}
    ids = list(flows)
    if len(ids) < max(args.flows + 1, PINNED + RECENT):
        raise SystemExit(f"the demo space has {len(ids)} flows: too few for --flows {args.flows}")
    # Every channel: the details' warm-up, the seen ones, bare Bolt's, the new ones.
    channels = args.flows + 1 + BARE_WARM + 3 * args.samples
    # Channels go to the workspaces in turn, and the bot makes two calls in one at most.
    count = math.ceil(2 * channels / CALLS_PER_WORKSPACE)
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        controlled_emulator("--qps", "0") as emulator,
        running_fake_slack(oauth=FakeOAuth()) as fake,
        aiohttp.ClientSession(timeout=SLACK_TIMEOUT, connector=connector) as session,
    ):
        spaces = Workspaces([f"T0BENCH{n:04d}" for n in range(count)], fake)
        people = [spaces.person() for _ in range(2 * args.people + 1)]
        with tempfile.TemporaryDirectory(prefix="bench-surfaces-") as home:
            directory = Path(home)
            database_url = f"sqlite+aiosqlite:///{directory / 'flowpreview.sqlite3'}"
            # The warm-up's person and flowpreview's are seeded; bare Bolt reads no database.
            seeded = people[: args.people + 1]
            progress(f"installing {count} workspaces, seeding {len(seeded)} people ...")
            await prepare(database_url, fake, spaces.teams, seeded, ids[: PINNED + RECENT])
            several = {"DATABASE_URL": database_url, "SLACK_CLIENT_ID": CLIENT_ID}
            ours_env = server_env(
                fake,
                emulator,
                **several,
                SLACK_CLIENT_SECRET=CLIENT_SECRET,
                CAMS_CUST_SPACE_ID=DEMO_SPACE,
            )
            bare_env = server_env(fake, emulator, **several)
            for env in (ours_env, bare_env):
                # Each workspace's own token, from the installations.
                del env["SLACK_BOT_TOKEN"]
            sender = Sender(session, fake, flows)
            bench = Bench(
                args,
                sender,
                spaces,
                people,
                ids[: args.flows],
                ids[args.flows],
                directory,
            )
            progress("starting flowpreview, warming it up ...")
            serve = ["-m", "bot", "serve", "--host", HOST]
            async with running_server(FLOWPREVIEW, serve, ours_env, session) as ours:
                seen = await bench.warm_up(ours)
                blocks = len((sender.view or {}).get("blocks", []))
                progress("starting bare Bolt ...")
                bare_command = await bench.bare_command(bare_env["PORT"])
                async with running_server(BARE, bare_command, bare_env, session) as bare:
                    started = time.perf_counter()
                    await emulator.reset()
                    unfurls = await bench.unfurl_rows(ours, bare, seen)
                    upstream = (await emulator.stats()).received
                    homes = await bench.home_rows(ours, bare)
                    wall_s = time.perf_counter() - started
    return Measured(unfurls, homes, upstream, sender.bearer_links, blocks, count, wall_s)


def targets(results: Measured) -> list[Target]:
    """The p99 targets, bare Bolt's figure beside each, and the checks on every answer."""

    def p99(row: Row) -> str:
        return f"{fixed(row.latency_ms(99))} ms ({len(row.errors)} errors)"

    card = results.row(results.unfurls, BARE)
    view = results.row(results.homes, BARE)
    found = [
        Target(
            f"link_shared -> chat.unfurl p99 <= {P99_TARGET_MS:g} ms, {case}",
            f"{p99(row)}; bare Bolt {p99(card)}",
            row.met,
        )
        for case in (SEEN, NEW)
        for row in [results.row(results.unfurls, FLOWPREVIEW, case)]
    ]
    found += [
        Target(
            f"app_home_opened -> views.publish p99 <= {P99_TARGET_MS:g} ms, {case}",
            f"{p99(row)}; bare Bolt {p99(view)}",
            row.met,
        )
        for case in (FIRST, AGAIN)
        for row in [results.row(results.homes, FLOWPREVIEW, case)]
    ]
    return [
        *found,
        target("GetFlow and other CAMS calls while unfurling", results.upstream_calls, "=", 0),
        target("cards and Home views holding a preview link", results.bearer_links, "=", 0),
    ]


def render(results: Measured, args: argparse.Namespace) -> str:
    """The report: the setup, a table per surface, the targets."""
    rows = results.unfurls + results.homes
    lines = [
        f"Both servers are installed in the same {results.workspaces} workspaces and authorise "
        "each request from its installation (auth.test included). The bot paces chat.unfurl "
        f"per workspace (Tier 3, bursts of {DEFAULT_BURST}), so the samples take the "
        f"workspaces in turn and none gets more than {CALLS_PER_WORKSPACE} of its calls: no "
        "call waits its turn, and the figures are the servers' own work (pacing is tested "
        "apart, tests/unit/slack/edge/test_pacing.py). One event at a time, each unfurl in a "
        "channel of its own (seen before: another flow unfurled there first; new: the bot asks "
        "conversations.info first), timed from the POST until the fake Slack receives the "
        "call. Server CPU from /proc.",
        f"## 1. link_shared -> chat.unfurl ({args.flows} flows, catalog and GetFlow details warm)",
        markdown_table(
            f"server | case | {ROW_HEADERS}",
            [f"{row.server} | {row.case} | {row.cells()}" for row in results.unfurls],
            "ll" + "r" * len(ROW_HEADERS.split(" | ")),
        ),
        f"## 2. app_home_opened -> views.publish ({PINNED} pins and {RECENT} recent previews "
        f"each, a view of {results.home_blocks} blocks)",
        markdown_table(
            f"server | case | {ROW_HEADERS}",
            [f"{row.server} | {row.case} | {row.cells()}" for row in results.homes],
            "ll" + "r" * len(ROW_HEADERS.split(" | ")),
        ),
        "## Targets",
        targets_table(targets(results)),
        "The cached slash command's target (at least 70% of bare Bolt's sustained requests/s) "
        f"is measured by bench_slack in the same `make bench` run. Measured for "
        f"{results.wall_s:.0f} s.",
    ]
    disturbed = [row for row in rows if (row.cpu.others_busy or 0.0) > OTHERS_WARNING]
    if disturbed:
        worst = max(disturbed, key=lambda row: row.cpu.others_busy or 0.0)
        lines.append(
            f"WARNING: other processes used over {OTHERS_WARNING:.0%} of a core in "
            f"{len(disturbed)} of {len(rows)} rows (most: {share(worst.cpu.others_busy)} in "
            f"{worst.server} {worst.case}); run again on a quiet machine."
        )
    lines += [
        f"ERRORS {row.server} {row.case}: {len(row.errors)} of {len(row.latencies)}; first: "
        f"{row.errors[0]}"
        for row in rows
        if row.errors
    ]
    return "\n\n".join(lines)


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or a wrong answer."""
    cli = parser(__doc__, "bench.bench_surfaces")
    cli.add_argument("--samples", type=positive_int, default=300, help="unfurls per case")
    cli.add_argument("--people", type=positive_int, default=200, help="Home tabs per case")
    cli.add_argument("--flows", type=positive_int, default=10, help="distinct flows unfurled")
    args = cli.parse_args()
    results = measured(run(args))
    ok = all(t.met for t in targets(results))
    return finish(args, __doc__, render(results, args), results, ok, *DISTRIBUTIONS)


if __name__ == "__main__":
    sys.exit(main())
