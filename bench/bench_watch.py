"""Watching 2,000 flows on two replicas beside people's GetFlow lookups, within one budget.

Two `python -m bot serve` replicas share redis-server and one PostgreSQL database; the emulator
(a process of its own) throttles GetFlow at 5 calls/s per account, as CAMS does. The benchmark
process looks flows up with GetFlow at 4/s, open loop, through the bot's own CamsClient on the
replicas' shared limiter, timing each lookup's wait for its slot. The peer is those lookups with
no watches. Then 2,000 watches are seeded in the database (10 channels of 200) and the same
lookups run while one replica polls them at WATCH_MAX_QPS=1, with flows ahead of the poller
changing status every few seconds; once the lookups end, a few more change. Targets: the
lookups' p99 wait at most 250 ms above the peer's, at most 5 GetFlow calls in any second, no
throttled answer, and every change posted exactly once, but for those whose poll stepped aside
for a lookup (their flows are polled again at the end of the cycle).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import aiohttp
from redis.asyncio import Redis

from bench.common import (
    MS,
    OK,
    RATE,
    THROTTLED_OUTCOME,
    Target,
    finish,
    fixed,
    get_flow_calls,
    markdown_table,
    measured,
    open_loop,
    outcome_of,
    parser,
    percentile,
    positive_float,
    positive_int,
    postgres,
    progress,
    target,
    targets_table,
)
from bot.cams.actions import Action
from bot.cams.client import AttemptGate, CamsClient, action_budget_key
from bot.cams.errors import CamsError
from bot.cams.settings import CamsSettings
from bot.preview.errors import BusyError
from bot.preview.redis.limiter import budget_key
from bot.preview.redis.wiring import Shared, connect
from bot.preview.settings import PreviewSettings
from bot.slack.watching.poller import LEASE
from bot.standin.cams.catalog import DEMO_SPACE, SeededFlow, catalog_of_size
from bot.standin.cams.server import DEMO_CREDENTIALS, arrival_key
from bot.standin.cams.window import busiest_window
from bot.standin.harness.processes import (
    EmulatorControl,
    EmulatorStats,
    ServeProcess,
    controlled_emulator,
    serve_env,
)
from bot.standin.harness.redis_server import running_redis
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.surfaces import ChannelInfo
from bot.store.settings import StoreSettings
from bot.store.store import Store
from bot.store.watches import Watches

ACCOUNT = DEMO_CREDENTIALS.access_key_id
GET_FLOW_KEY = arrival_key(ACCOUNT, Action.GET_FLOW)
SECRET = "bench-watch-secret"
TOKEN = "xoxb-bench-watch"
TEAM = "T0001"
WATCHER = "U0BENCH"
REPLICAS = 2
# The figures: 2,000 watched flows polled at most once a second, 4 lookups a second.
FLOWS = 2000
WATCH_MAX_QPS = 1
LOOKUP_RATE = 4.0
# Watches go in channels of 200, the default bound per channel.
PER_CHANNEL = 200
# Flows nobody watches, which the lookups ask for: their calls are told apart from polls.
SPARE_FLOWS = 100
# Short, so that a replica takes the poller's lease within seconds of the benchmark dropping it;
# a cycle over 2,000 flows lasts far longer whatever it is.
POLL_S = 10.0
# The benchmark holds the poller's lease while it seeds, so that polling starts on every watch
# at once, and only then.
HOLDER = "bench_watch"
HOLD_S = 3600.0
STARTUP_S = 30.0
# A change goes to a flow LEAD to LEAD + SPREAD - 1 places past the last one polled, every
# CHANGE_EVERY_S: far enough that no poll of it is under way (the poller tries a flow a second,
# and some it passed without a poll may lie between), near enough that it comes within the run.
# Where in that span is drawn at random: under the lookups' even beat the polls that get a slot
# fall into a beat of their own, which one fixed distance would always hit or always miss.
LEAD = 5
SPREAD = 6
SEED = 19
CHANGE_EVERY_S = 5.0
# With the lookups over, this many more changes, whose polls nothing delays.
AFTER_CHANGES = 5
NEW_STATUSES = ("BLOCKED", "THROTTLED", "DEPRECATED")
# After the lookups: how long changes ahead of the poller may take to be polled and posted.
DRAIN_S = 30.0
# Any duplicate post would come within this of the first: both replicas post as they find work.
SETTLE_S = 3.0
ADDED_P99_MS = 250.0
# The limiter's marker of each action, as in a Redis long in use: no restart fence (see
# bench_replicas's MARKER_NOTE).
MARKERS = [budget_key(action_budget_key(ACCOUNT, action), "marker") for action in Action]
PREVIEW_LINK = "token="

# The slot waits of the lookup running in the current task.
_waits: ContextVar[list[float]] = ContextVar("waits")


@dataclass(frozen=True, slots=True)
class TimedGate:
    """An AttemptGate that times how long each attempt waits to be admitted."""

    gate: AttemptGate

    async def admit(self, account: str, within: float) -> float:
        """Admit as the gate does; the wait goes to the current lookup's list, if any."""
        started = time.perf_counter()
        try:
            return await self.gate.admit(account, within)
        finally:
            waits = _waits.get(None)
            if waits is not None:
                waits.append(time.perf_counter() - started)

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        """As the gate."""
        return await self.gate.throttled(account, retry_after)

    def settled(self, account: str) -> None:
        """As the gate."""
        self.gate.settled(account)

    async def missed(self, account: str) -> None:
        """As the gate."""
        await self.gate.missed(account)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One interactive GetFlow: its wait for a slot, its time from its scheduled start to its
    answer, and its outcome (common's OK, THROTTLED, BUSY or OTHER)."""

    wait_s: float
    total_s: float
    outcome: str


@dataclass(frozen=True, slots=True)
class Phase:
    """The lookups of one side and what the emulator saw of GetFlow meanwhile."""

    name: str
    lookups: list[Lookup]
    get_flow_calls: int
    busiest: int
    throttled: int
    wall_s: float

    @property
    def waits(self) -> list[float]:
        """Each lookup's wait for its slot."""
        return [lookup.wait_s for lookup in self.lookups]

    @property
    def answered(self) -> int:
        """Lookups answered with the flow."""
        return sum(lookup.outcome == OK for lookup in self.lookups)

    def row(self) -> list[str]:
        """Its row in the lookups' table."""
        totals = [lookup.total_s for lookup in self.lookups]
        waits = [percentile(self.waits, p) * MS for p in (50, 99, 100)]
        return [
            self.name,
            f"{self.answered:,}/{len(self.lookups):,}",
            *(fixed(w) for w in waits),
            *(fixed(percentile(totals, p) * MS) for p in (50, 99)),
            f"{self.get_flow_calls:,}",
            str(self.busiest),
            f"{self.throttled:,}",
        ]


@dataclass(frozen=True, slots=True)
class Polling:
    """The polls of watched flows over one stretch of the run."""

    name: str
    flows: int
    polls: int
    wall_s: float

    @property
    def rate(self) -> float | None:
        """Polls a second."""
        return self.polls / self.wall_s if self.polls and self.wall_s > 0 else None

    @property
    def cycle_s(self) -> float | None:
        """A full cycle over the watched flows at this rate."""
        return self.flows / self.rate if self.rate else None

    def row(self) -> list[str]:
        """Its row in the polling table."""
        cycle = "n/a" if self.cycle_s is None else f"{self.cycle_s:,.0f}"
        formula = self.flows / WATCH_MAX_QPS
        return [
            self.name,
            f"{self.polls:,}",
            f"{self.wall_s:.0f}",
            fixed(self.rate),
            cycle,
            f"{formula:,.0f}",
        ]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """A status the benchmark gave a watched flow, the channel watching it, and whether the
    lookups were running."""

    flow_id: str
    channel: str
    old: str
    new: str
    during_lookups: bool


@dataclass(frozen=True, slots=True)
class Tally:
    """What became of the changes made in one stretch of the run."""

    name: str
    made: int
    polled: int
    posted: int
    duplicates: int
    passed: int

    def row(self) -> list[str]:
        """Its row in the changes table."""
        figures = (self.made, self.polled, self.posted, self.duplicates, self.passed)
        return [self.name, *map(str, figures)]


@dataclass(frozen=True, slots=True)
class Watching:
    """What polling and posting did while the lookups ran, and after."""

    polling: list[Polling]
    tallies: list[Tally]
    stray_posts: int
    preview_links: int

    def total(self, figure: str) -> int:
        """One of Tally's counts over every stretch."""
        return sum(int(getattr(tally, figure)) for tally in self.tallies)


@dataclass(frozen=True, slots=True)
class Run:
    """Both sides, the watching, and how long seeding took."""

    peer: Phase
    watched: Phase
    watching: Watching
    seed_s: float
    replicas_clean: bool

    @property
    def added_p99_ms(self) -> float:
        """How much later the lookups' p99 wait was with watches than without."""
        return (percentile(self.watched.waits, 99) - percentile(self.peer.waits, 99)) * MS

    @property
    def targets(self) -> list[Target]:
        """The issue's targets, and what makes the figures worth reading."""
        w = self.watching
        made, polled, posted, passed = (w.total(f) for f in ("made", "polled", "posted", "passed"))
        due = made - passed
        lookups = len(self.peer.lookups) + len(self.watched.lookups)
        answered = self.peer.answered + self.watched.answered
        return [
            target(
                "lookups' p99 wait above the peer's", self.added_p99_ms, "<=", ADDED_P99_MS, " ms"
            ),
            target("max GetFlow calls in any 1 s, with watches", self.watched.busiest, "<=", RATE),
            target("max GetFlow calls in any 1 s, peer", self.peer.busiest, "<=", RATE),
            target("throttled answers", self.peer.throttled + self.watched.throttled, "=", 0),
            Target(
                "changes posted = changes made, less those passed for a lookup",
                f"{posted} = {made} - {passed}",
                posted == polled == due > 0,
            ),
            target("duplicate posts", w.total("duplicates"), "=", 0),
            target("posts of no change made in that channel", w.stray_posts, "=", 0),
            target("channel messages holding a preview link", w.preview_links, "=", 0),
            Target("every lookup answered", f"{answered:,}/{lookups:,}", answered == lookups),
            Target(
                "replicas exited cleanly",
                "yes" if self.replicas_clean else "no",
                self.replicas_clean,
            ),
        ]


def get_flow_view(stats: EmulatorStats) -> tuple[int, int, int]:
    """GetFlow calls the emulator saw, the most in any 1 s, and throttled answers (any action)."""
    arrivals = stats.arrivals.get(GET_FLOW_KEY, [])
    return len(arrivals), len(busiest_window(arrivals)), stats.counts.get(THROTTLED_OUTCOME, 0)


async def lookups(
    client: CamsClient, flow_ids: Sequence[str], seconds: float
) -> tuple[list[Lookup], float]:
    """GetFlow of `flow_ids` in turn, LOOKUP_RATE a second for `seconds`; and the wall time."""
    count = max(1, math.floor(seconds * LOOKUP_RATE))

    async def one(at: int) -> tuple[float, str]:
        waits: list[float] = []
        _waits.set(waits)
        outcome = OK
        try:
            await client.get_flow(flow_ids[at % len(flow_ids)], DEMO_SPACE)
        except (CamsError, BusyError) as error:
            outcome = outcome_of(error)
        return sum(waits), outcome

    started = time.perf_counter()
    results = await open_loop(count, LOOKUP_RATE, one)
    found = [Lookup(wait, total, outcome) for total, (wait, outcome) in results]
    return found, time.perf_counter() - started


async def phase(
    name: str,
    emulator: EmulatorControl,
    client: CamsClient,
    flow_ids: Sequence[str],
    seconds: float,
) -> Phase:
    """One side's lookups on an emulator just reset, and what it saw of GetFlow."""
    progress(f"{name}: GetFlow lookups at {LOOKUP_RATE:g}/s for {seconds:g} s ...")
    await emulator.reset()
    found, wall_s = await lookups(client, flow_ids, seconds)
    calls, busiest, throttled = get_flow_view(await emulator.stats())
    return Phase(name, found, calls, busiest, throttled, wall_s)


def channel_of(index: int) -> str:
    """The channel watching the `index`th flow: PER_CHANNEL flows each, in order."""
    return f"C{index // PER_CHANNEL:04d}WATCH"


async def seed(watches: Watches, flows: Sequence[SeededFlow]) -> float:
    """Watch `flows` in their channels, in poll order, with their statuses as last seen; the
    seconds it took."""
    started = time.perf_counter()
    for index, flow in enumerate(flows):
        await watches.add(TEAM, channel_of(index), DEMO_SPACE, flow.flow_id, WATCHER)
    # Seen once already, so that a poll finding another status is a change, not a first look.
    gate = asyncio.Semaphore(8)

    async def observe(flow: SeededFlow) -> None:
        async with gate:
            await watches.observe(DEMO_SPACE, flow.flow_id, flow.name, flow.status.value)

    await asyncio.gather(*map(observe, flows))
    return time.perf_counter() - started


class Changer:
    """Changes the status of flows just ahead of the poller, and tells what became of them."""

    def __init__(self, emulator: EmulatorControl, flows: Sequence[SeededFlow]) -> None:
        self._emulator = emulator
        self._flows = flows
        self._position = {flow.flow_id: index for index, flow in enumerate(flows)}
        self.changes: list[StatusChange] = []
        self._rng = random.Random(SEED)  # noqa: S311 - picks flows, guards nothing

    def frontier(self, calls: dict[str, int]) -> int:
        """The position of the last watched flow polled (-1: none yet)."""
        return max((self._position.get(flow_id, -1) for flow_id in calls), default=-1)

    async def change_next(self, *, during_lookups: bool) -> None:
        """Give a new status to a flow not polled yet, LEAD places or more past the last one
        polled."""
        calls = await get_flow_calls(self._emulator)
        changed = {change.flow_id for change in self.changes}
        first = self.frontier(calls) + LEAD + self._rng.randrange(SPREAD)
        for index in range(first, len(self._flows)):
            flow = self._flows[index]
            if flow.flow_id in changed or calls.get(flow.flow_id, 0):
                continue
            old = flow.status.value
            turn = len(self.changes) % len(NEW_STATUSES)
            rotated = NEW_STATUSES[turn:] + NEW_STATUSES[:turn]
            new = next(status for status in rotated if status != old)
            await self._emulator.set_status(flow.flow_id, new, DEMO_SPACE)
            change = StatusChange(flow.flow_id, channel_of(index), old, new, during_lookups)
            self.changes.append(change)
            return

    async def every(self, seconds: float) -> None:
        """A change every `seconds` while the lookups run, until cancelled."""
        while True:
            await asyncio.sleep(seconds)
            await self.change_next(during_lookups=True)

    def passed(self, calls: dict[str, int], change: StatusChange) -> bool:
        """Whether the poller went past the changed flow without a poll (it should not: a poll
        that steps aside for a lookup tries the same flow again 0.2 s later)."""
        polled = calls.get(change.flow_id, 0) > 0
        return not polled and self._position[change.flow_id] < self.frontier(calls)

    def waiting(self, calls: dict[str, int], posts: dict[str, int]) -> int:
        """Changes not yet polled and not passed, or polled and not yet posted."""
        return sum(
            not posts[c.flow_id] if calls.get(c.flow_id, 0) else not self.passed(calls, c)
            for c in self.changes
        )

    def tally(
        self, name: str, during_lookups: bool, calls: dict[str, int], posts: dict[str, int]
    ) -> Tally:
        """What became of the changes made while the lookups ran, or after."""
        made = [c for c in self.changes if c.during_lookups == during_lookups]
        return Tally(
            name,
            made=len(made),
            # No changed flow was polled before its change: the counts are all since.
            polled=sum(calls.get(c.flow_id, 0) > 0 for c in made),
            posted=sum(posts[c.flow_id] > 0 for c in made),
            duplicates=sum(max(0, posts[c.flow_id] - 1) for c in made),
            passed=sum(self.passed(calls, c) for c in made),
        )


def posts_by_flow(
    fake: FakeSlack, changes: Sequence[StatusChange]
) -> tuple[dict[str, int], int, int]:
    """Posts of each change in the channel watching its flow, posts of none, and posts holding
    a preview link."""
    counts = {change.flow_id: 0 for change in changes}
    stray = links = 0
    for post in fake.posts:
        text = json.dumps(post.message)
        links += PREVIEW_LINK in text
        named = [c.flow_id for c in changes if c.flow_id in text and c.channel == post.channel]
        for flow_id in named:
            counts[flow_id] += 1
        stray += not named
    return counts, stray, links


async def wait_for_first_poll(emulator: EmulatorControl, watched: set[str]) -> dict[str, int]:
    """GetFlow's calls per flow once a replica has polled a watched flow."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        calls = await get_flow_calls(emulator)
        if watched & calls.keys():
            return calls
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no replica polled within {STARTUP_S:g} s of the lease being free")


async def drain(emulator: EmulatorControl, fake: FakeSlack, changer: Changer) -> dict[str, int]:
    """With the lookups over, AFTER_CHANGES more changes; then wait (DRAIN_S at most) until
    every change is polled and posted, or passed, and SETTLE_S more for any duplicate.
    GetFlow's calls per flow."""
    for _ in range(AFTER_CHANGES):
        await changer.change_next(during_lookups=False)
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline:
        posts, _, _ = posts_by_flow(fake, changer.changes)
        if not changer.waiting(await get_flow_calls(emulator), posts):
            break
        await asyncio.sleep(0.5)
    await asyncio.sleep(SETTLE_S)
    return await get_flow_calls(emulator)


@contextlib.asynccontextmanager
async def replicas(env: dict[str, str]) -> AsyncIterator[list[bool]]:
    """REPLICAS `serve` processes until the block ends; then whether each exited cleanly."""
    processes = [ServeProcess(env) for _ in range(REPLICAS)]
    clean: list[bool] = []
    async with aiohttp.ClientSession() as session:
        try:
            await asyncio.gather(*(process.start(session) for process in processes))
            yield clean
        finally:
            for code, err in await asyncio.gather(*(p.stop() for p in processes)):
                if code != 0 or b"Traceback" in err:
                    progress(f"a replica exited with {code}:\n{err.decode(errors='replace')}")
                clean.append(code == 0 and b"Traceback" not in err)


def lookup_client(emulator: EmulatorControl, shared: Shared) -> CamsClient:
    """The bot's client on the replicas' shared limiters, each gate timed."""
    gates = {action: TimedGate(limiter) for action, limiter in shared.limiters.items()}
    env = {"CAMS_ENDPOINT": emulator.url}
    return CamsClient(DEMO_CREDENTIALS, CamsSettings.from_env(env), gates=gates)


@dataclass(frozen=True, slots=True)
class Rig:
    """What the benchmark drives: the emulator, the fake Slack, the watches in the replicas'
    database, the lookups' client, the flows to watch (in poll order) and those to look up."""

    emulator: EmulatorControl
    fake: FakeSlack
    watches: Watches
    client: CamsClient
    watched: list[SeededFlow]
    spare: list[str]


@contextlib.asynccontextmanager
async def rig(flows: int) -> AsyncIterator[tuple[Rig, list[bool]]]:
    """Everything running, the replicas last, with the poller's lease held by the benchmark;
    and, once the block ends, whether each replica exited cleanly."""
    catalog = catalog_of_size(flows + SPARE_FLOWS)[DEMO_SPACE]
    progress("starting PostgreSQL, redis-server, the emulator and the fake Slack ...")
    async with contextlib.AsyncExitStack() as stack:
        database_url = await stack.enter_async_context(postgres())
        redis_server = await stack.enter_async_context(running_redis())
        emulator = await stack.enter_async_context(
            controlled_emulator("--qps", str(RATE), "--catalog-size", str(len(catalog)))
        )
        fake = await stack.enter_async_context(running_fake_slack(bot_token=TOKEN))
        # The channels the watches post to, with the bot in each.
        for index in range(0, flows, PER_CHANNEL):
            fake.channels[channel_of(index)] = ChannelInfo(name=f"watch-{index // PER_CHANNEL}")
        store = Store(
            StoreSettings.from_env({"DATABASE_URL": database_url}),
            max_watches_per_channel=PER_CHANNEL,
            max_watches=flows,
        )
        await store.start()
        stack.push_async_callback(store.close)
        await store.watches.take_lease(LEASE, HOLDER, HOLD_S)
        redis = Redis.from_url(redis_server.url)
        stack.push_async_callback(redis.aclose)
        await redis.mset(dict.fromkeys(MARKERS, 1))
        env = serve_env(
            emulator.url,
            fake,
            SLACK_BOT_TOKEN=TOKEN,
            SLACK_SIGNING_SECRET=SECRET,
            REDIS_URL=redis_server.url,
            DATABASE_URL=database_url,
            CAMS_REPLICAS=str(REPLICAS),
            WATCH_POLL_S=f"{POLL_S:g}",
            WATCH_MAX_QPS=str(WATCH_MAX_QPS),
            LOG_LEVEL="WARNING",
        )
        shared = connect(redis_server.url, PreviewSettings.from_env(env))
        stack.push_async_callback(shared.breaker.close)
        client = lookup_client(emulator, shared)
        stack.push_async_callback(client.close)
        progress(f"starting {REPLICAS} replicas ...")
        clean = await stack.enter_async_context(replicas(env))
        spare = [flow.flow_id for flow in catalog[flows:]]
        yield Rig(emulator, fake, store.watches, client, catalog[:flows], spare), clean


async def watched_side(r: Rig, seconds: float) -> tuple[Phase, Watching]:
    """Let the replicas poll; the lookups, with flows changing ahead of the poller; then more
    changes, with the poller alone."""
    await r.emulator.reset()
    await r.watches.drop_lease(LEASE, HOLDER)
    before = await wait_for_first_poll(r.emulator, {flow.flow_id for flow in r.watched})
    changer = Changer(r.emulator, r.watched)
    changing = asyncio.create_task(changer.every(CHANGE_EVERY_S))
    name = f"{len(r.watched):,} watches, WATCH_MAX_QPS={WATCH_MAX_QPS}"
    progress(f"{name}: GetFlow lookups at {LOOKUP_RATE:g}/s for {seconds:g} s ...")
    found, wall_s = await lookups(r.client, r.spare, seconds)
    changing.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await changing
    during = await get_flow_calls(r.emulator)
    progress("lookups over: changing more flows; waiting for their polls and posts ...")
    drained = time.perf_counter()
    after = await drain(r.emulator, r.fake, changer)
    drained_s = time.perf_counter() - drained
    calls, busiest, throttled = get_flow_view(await r.emulator.stats())
    posts, stray, links = posts_by_flow(r.fake, changer.changes)

    def polls(since: dict[str, int], until: dict[str, int]) -> int:
        return sum(until.get(f.flow_id, 0) - since.get(f.flow_id, 0) for f in r.watched)

    flows = len(r.watched)
    polling = [
        Polling("beside the lookups", flows, polls(before, during), wall_s),
        Polling("alone, after the lookups", flows, polls(during, after), drained_s),
    ]
    tallies = [
        changer.tally("while the lookups ran", True, after, posts),
        changer.tally("after the lookups", False, after, posts),
    ]
    side = Phase(name, found, calls, busiest, throttled, wall_s)
    return side, Watching(polling, tallies, stray, links)


async def run(args: argparse.Namespace) -> Run:
    """The peer, seeding, then the lookups beside the poller, on one set of processes."""
    async with rig(args.flows) as (r, clean):
        peer = await phase("no watches (peer)", r.emulator, r.client, r.spare, args.seconds)
        progress(f"seeding {args.flows:,} watches in {args.flows // PER_CHANNEL} channels ...")
        seed_s = await seed(r.watches, r.watched)
        watched, watching = await watched_side(r, args.seconds)
    return Run(peer, watched, watching, seed_s, all(clean) and len(clean) == REPLICAS)


def render(result: Run) -> str:
    """The report: both sides' lookups, the polling, the changes, the targets."""
    w = result.watching
    return "\n\n".join(
        [
            f"{REPLICAS} replicas on redis-server and PostgreSQL; emulator at {RATE} GetFlow "
            f"calls/s per account; lookups at {LOOKUP_RATE:g}/s for {result.peer.wall_s:.0f} s "
            f"a side; {w.polling[0].flows:,} watches seeded in {result.seed_s:.1f} s.",
            markdown_table(
                "side | lookups answered | p50 wait ms | p99 wait ms | max wait ms | p50 total ms "
                "| p99 total ms | GetFlow calls at server | max calls in any 1 s | throttled",
                [result.peer.row(), result.watched.row()],
                "lrrrrrrrrr",
            ),
            markdown_table(
                "polling | polls | over s | polls/s | full cycle s at this rate | flows ÷ "
                "WATCH_MAX_QPS s",
                [p.row() for p in w.polling],
                "lrrrrr",
            ),
            markdown_table(
                "changes made | made | polled since | posted | duplicate posts | passed for a "
                "lookup",
                [t.row() for t in w.tallies],
                "lrrrrr",
            ),
            f"Posts of no change made in their channel: {w.stray_posts}; holding a preview link: "
            f"{w.preview_links}. A poll that steps aside for a lookup tries its flow again 0.2 s "
            "later.",
            targets_table(result.targets),
        ]
    )


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss."""
    cli = parser(__doc__, "bench.bench_watch")
    cli.add_argument("--flows", type=positive_int, default=FLOWS, help="watched flows")
    cli.add_argument(
        "--seconds", type=positive_float, default=60.0, help="lookups' duration, each side"
    )
    args = cli.parse_args()
    result = measured(run(args))
    ok = all(t.met for t in result.targets)
    return finish(args, __doc__, render(result), result, ok, "redis", "asyncpg")


if __name__ == "__main__":
    sys.exit(main())
