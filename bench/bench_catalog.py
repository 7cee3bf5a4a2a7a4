"""The flow catalog on 10,000 flows (emulator --catalog-size), each part beside its peer.

1. Picker options, open loop, timed at the server: the cached catalog against a live ListFlow
per request (and one --latency s late). 2. Name search against a substring scan. 3. A full
refresh through the ListFlow limiter against none. 4. Uncached previews while it runs against
none running. Targets: options p99 <= 50 ms, search p99 <= 5 ms, 101 ListFlow calls and no
throttling, previews >= 4.5 calls/s and <= 5 in any second during the refresh.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass

import aiohttp

from bench.bench_search import Side, make_queries, miss, run_queries, search_table, with_typo
from bench.common import (
    BOT_TOKEN,
    BUSY,
    MS,
    OK,
    OTHER,
    RATE,
    SIGNING_SECRET,
    SLACK_TIMEOUT,
    THROTTLED,
    THROTTLED_OUTCOME,
    CpuMeter,
    CpuUse,
    Server,
    Target,
    budget_targets,
    finish,
    fixed,
    markdown_table,
    measured,
    non_negative_float,
    open_loop,
    outcome_of,
    parser,
    percentile,
    positive_float,
    positive_int,
    progress,
    quantiles,
    running_server,
    server_env,
    share,
    target,
    targets_table,
)
from bench.workers import CATALOG, LIVE, SEQUENCE_HEADER, TIMINGS_PATH
from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.errors import CamsError
from bot.cams.models import FlowSummary
from bot.cams.settings import CamsSettings
from bot.config import Endpoint
from bot.preview.catalog import FlowCatalog
from bot.preview.errors import BusyError
from bot.preview.limiter import LimiterSettings
from bot.preview.search import SearchIndex
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.preview.spaces import SpaceChoice
from bot.slack.blocks import modals
from bot.slack.constants import PICKER_FLOW_ACTION_ID, PICKER_FLOW_BLOCK_ID
from bot.standin.cams.catalog import DEMO_SPACE, catalog_of_size
from bot.standin.cams.server import DEMO_CREDENTIALS, arrival_key
from bot.standin.cams.window import max_in_window
from bot.standin.harness.processes import (
    EmulatorControl,
    EmulatorStats,
    calls_per_s,
    controlled_emulator,
)
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import running_fake_slack
from bot.standin.slack.signing import signed_headers

CATALOG_SIZE = 10_000
CATALOG_FLAGS = ("--catalog-size", str(CATALOG_SIZE))
SPACE = DEMO_SPACE
ACCOUNT = DEMO_CREDENTIALS.access_key_id
DISTRIBUTIONS = ("slack-bolt", "rapidfuzz")
PAGE_SIZE = 100
# Full pages, then the empty one that ends a list whose length is a multiple of the size.
EXPECTED_PAGES = CATALOG_SIZE // PAGE_SIZE + 1
OPTIONS_P99_TARGET_MS = 50.0
SEARCH_P99_TARGET_MS = 5.0
# The bot's own catalog is warmed before it is timed: its first refresh, unthrottled.
WARM_TIMEOUT_S = 60.0
WARM_REQUESTS = 40
OPTION_KINDS = {"empty": 10, "1-3 letter prefix": 30, "whole words": 25, "typo": 20, "miss": 15}
# Option values that are not flows: the catalog was not ready, or listing failed.
NOT_ANSWERS = (modals.LOADING, modals.DENIED, modals.UNAVAILABLE)
# Sixteen digits, far from the catalog's IDs, so every preview ask is a cache miss.
PREVIEW_FLOW_BASE = 5_000_000_000_000_000
# One attempt per call, and a deadline beyond any wait at the gate with this many in flight.
DEADLINE_S = 30.0
FLOWPREVIEW_SIDE = "flowpreview: cached catalog"
LIVE_SIDE = "peer: live ListFlow per request"


def cams_settings(emulator: EmulatorControl) -> CamsSettings:
    """SPACE by default, one attempt per call: a throttled answer is counted, not retried."""
    endpoint = Endpoint.parse(emulator.url)
    return CamsSettings(endpoint, default_space=SPACE, max_attempts=1, deadline=DEADLINE_S)


def service(emulator: EmulatorControl) -> PreviewService:
    """A preview service with production's limiters (CAMS_QPS=5 per action)."""
    settings = PreviewSettings(limiter=LimiterSettings())
    return PreviewService.create(DEMO_CREDENTIALS, cams_settings(emulator), settings)


def arrivals(stats: EmulatorStats, action: Action) -> list[float]:
    """The emulator's arrival times of `action` from the demo account."""
    return stats.arrivals.get(arrival_key(ACCOUNT, action), [])


def within(times: Sequence[float], start: float, end: float) -> list[float]:
    """The `times` from `start` to `end`, both included."""
    return [t for t in times if start <= t <= end]


def typed(kind: str, flows: Sequence[FlowSummary], rng: random.Random) -> str:
    """One query of OPTION_KINDS' `kind`, in lower case as people type into a search box."""
    if kind == "empty":
        return ""
    if kind == "miss":
        return miss(rng)
    while True:
        found = [word for word in rng.choice(flows).name.lower().split() if word.isalpha()]
        if not found:
            continue
        if kind == "1-3 letter prefix":
            return found[0][: rng.randint(1, 3)]
        start = rng.randrange(len(found))
        text = " ".join(found[start : start + rng.randint(1, 2)])
        if kind == "whole words":
            return text
        if (misspelt := with_typo(text, rng)) != text:
            return misspelt


class Picker:
    """Sends the picker's signed options requests and judges the answers."""

    def __init__(self, session: aiohttp.ClientSession, emulator: EmulatorControl) -> None:
        self._session = session
        self._emulator = emulator
        # Slack's stored view has an ID, which the request's container names.
        self._view = {"id": "VBENCHPICKER", **modals.picker_view((SpaceChoice(SPACE, SPACE),))}

    async def ask(self, server: Server, query: str, sequence: int) -> tuple[bool, str | None]:
        """One request; whether the answer lists a flow, and what was wrong with it if any."""
        body = payloads.block_suggestion(
            self._view, block_id=PICKER_FLOW_BLOCK_ID, action_id=PICKER_FLOW_ACTION_ID, value=query
        )
        headers = signed_headers(SIGNING_SECRET, body) | {SEQUENCE_HEADER: str(sequence)}
        try:
            async with self._session.post(server.events_url, data=body, headers=headers) as answer:
                content = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        if answer.status != 200:
            return False, f"HTTP {answer.status}: {content[:200]!r}"
        try:
            values = [str(option["value"]) for option in json.loads(content)["options"]]
        except (ValueError, KeyError, TypeError):
            return False, f"not an options answer: {content[:200]!r}"
        if not values or len(values) > modals.MAX_OPTIONS:
            return False, f"{len(values)} options"
        if refused := [value for value in values if value in NOT_ANSWERS]:
            return False, f"answered {refused[0]!r}"
        return any(modals.picked_flow(value) is not None for value in values), None

    async def take_timings(self, server: Server) -> dict[int, float]:
        """The server's handler times (s) by request sequence number since the last take."""
        async with self._session.post(server.base_url + TIMINGS_PATH) as answer:
            answer.raise_for_status()
            taken = await answer.json()
        return {int(sequence): float(spent) for sequence, spent in taken["timings_s"]}

    async def warm(self, server: Server, queries: Sequence[str]) -> None:
        """Until the server lists flows (the bot's first catalog refresh), then a few more."""
        deadline = asyncio.get_running_loop().time() + WARM_TIMEOUT_S
        while not (answer := await self.ask(server, "", -1))[0]:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"{server.name} listed no flows in time: {answer[1]}")
            await asyncio.sleep(0.2)
        for at in range(WARM_REQUESTS):
            if error := (await self.ask(server, queries[at % len(queries)], -1))[1]:
                raise RuntimeError(f"{server.name} failed while warming: {error}")
        await self.take_timings(server)

    async def measure(
        self, server: Server, side: str, queries: Sequence[tuple[str, str]], rate: float
    ) -> OptionsRun:
        """The (kind, text) `queries` at `rate` against `server`, timed at both ends."""
        progress(f"options: {side}: {len(queries)} requests at {rate:g}/s ...")
        await self._emulator.reset()
        meter = CpuMeter(server.pid, self._emulator.pid)
        answers = await open_loop(
            len(queries), rate, lambda at: self.ask(server, queries[at][1], at)
        )
        cpu = meter.stop()
        timings = await self.take_timings(server)
        return OptionsRun(
            side,
            [kind for kind, _ in queries],
            [trip for trip, _ in answers],
            [lists for _, (lists, _) in answers],
            [error for _, (_, error) in answers if error is not None],
            {at: spent for at, spent in timings.items() if at >= 0},
            len(arrivals(await self._emulator.stats(), Action.LIST_FLOW)),
            cpu,
        )


@dataclass(frozen=True, slots=True)
class OptionsRun:
    """One side's options requests, timed at both ends, with its ListFlow calls and CPU."""

    side: str
    kinds: list[str]
    round_trips: list[float]
    lists_flows: list[bool]
    errors: list[str]
    server_s: dict[int, float]
    listflow_calls: int
    cpu: CpuUse

    def server_ms(self, kind: str | None = None) -> list[float]:
        """Server times in ms, of one kind of query or of all."""
        return [s * MS for at, s in self.server_s.items() if kind in (None, self.kinds[at])]

    def listing(self, kind: str) -> str:
        """How many answers to queries of `kind` listed a flow, of how many."""
        listed = [lists for lists, k in zip(self.lists_flows, self.kinds, strict=True) if k == kind]
        return f"{sum(listed)}/{len(listed)}"

    def cpu_ms(self, process: int) -> float | None:
        """A watched process's CPU ms per request (0: the server, 1: the emulator)."""
        used = self.cpu.watched_s[process]
        return None if used is None else used * MS / len(self.kinds)


async def options(
    args: argparse.Namespace, emulator: EmulatorControl, flows: Sequence[FlowSummary]
) -> list[OptionsRun]:
    """Measurement 1 on the unthrottled emulator: the bot, then the live peer, each a process."""
    rng = random.Random(args.seed)  # noqa: S311 - test data
    count = round(args.rate * args.duration)
    kinds = rng.choices(list(OPTION_KINDS), list(OPTION_KINDS.values()), k=count)
    queries = [(kind, typed(kind, flows, rng)) for kind in kinds]
    live_sides = [f"{LIVE_SIDE} (emulator, no throttling, no added latency)"]
    if args.latency > 0:
        late = f"each ListFlow answered {args.latency * MS:.0f} ms late (a network round trip)"
        live_sides.append(f"{LIVE_SIDE}, {late}")
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        running_fake_slack(bot_token=BOT_TOKEN) as fake,
        aiohttp.ClientSession(timeout=SLACK_TIMEOUT, connector=connector) as session,
        contextlib.AsyncExitStack() as stack,
    ):
        picker = Picker(session, emulator)
        progress("options: starting the bot and the live-ListFlow peer, warming the catalog ...")
        servers = []
        for name, answer in ((FLOWPREVIEW_SIDE, CATALOG), (LIVE_SIDE, LIVE)):
            # A raised ListFlow budget: the first refresh only warms the bot, CAMS_QPS=5 takes 20 s.
            env = server_env(fake, emulator, CAMS_CUST_SPACE_ID=SPACE, CAMS_QPS_LISTFLOW="1000")
            command = ["-m", "bench.workers", answer, "--port", env["PORT"]]
            server = await stack.enter_async_context(running_server(name, command, env, session))
            await picker.warm(server, [text for _, text in queries])
            servers.append(server)
        ours, live = servers
        runs = [await picker.measure(ours, FLOWPREVIEW_SIDE, queries, args.rate)]
        for at, side in enumerate(live_sides):
            await emulator.faults(*([f"latency:{args.latency:g}@action:ListFlow"] if at else []))
            runs.append(await picker.measure(live, side, queries, args.rate))
        await emulator.faults()
    return runs


@dataclass(frozen=True, slots=True)
class Refresh:
    """One full refresh: what it listed, how long it took, what the emulator saw."""

    side: str
    flows: int
    wall_s: float
    listflow: list[float]
    throttled: int
    failure: str | None

    def row(self) -> str:
        """Its row in the refresh table."""
        calls = self.listflow
        span = calls[-1] - calls[0] if len(calls) > 1 else None
        return (
            f"{self.side} | {len(calls):,} | {self.flows:,} | {fixed(self.wall_s)} | {fixed(span)} "
            f"| {fixed(calls_per_s(calls))} | {max_in_window(calls)} | {self.throttled:,}"
        )


async def refresh(side: str, catalog: FlowCatalog, emulator: EmulatorControl) -> Refresh:
    """Refresh SPACE in `catalog` and wait for its end; what it came to, as the emulator saw."""
    started = asyncio.get_running_loop().time()
    catalog.peek(SPACE)
    snapshot = await catalog.refreshed(SPACE)
    wall = asyncio.get_running_loop().time() - started
    stats = await emulator.stats()
    return Refresh(
        side,
        0 if snapshot is None else len(snapshot.flows),
        wall,
        arrivals(stats, Action.LIST_FLOW),
        stats.counts.get(THROTTLED_OUTCOME, 0),
        None if snapshot is not None else str(catalog.state(SPACE)),
    )


async def unlimited_refresh(emulator: EmulatorControl) -> Refresh:
    """The peer of measurement 3: no limiter, the emulator's throttling off."""
    progress(f"refresh: {CATALOG_SIZE:,} flows with no limiter, throttling off ...")
    await emulator.reset()
    async with CamsClient(DEMO_CREDENTIALS, cams_settings(emulator)) as client:
        catalog = FlowCatalog(client, page_size=PAGE_SIZE)
        try:
            side = "peer: no limiter, emulator throttling off (not possible against CAMS)"
            return await refresh(side, catalog, emulator)
        finally:
            await catalog.close()


@dataclass(frozen=True, slots=True)
class Previews:
    """Preview calls in one window, as the emulator saw them, and the callers' outcomes."""

    side: str
    window_s: float
    previews: list[float]
    listflow: list[float]
    throttled: int
    outcomes: list[str]
    first_error: str | None
    refresh: Refresh | None

    @property
    def calls_per_s(self) -> float | None:
        """GetFlowPreviewUrl calls/s between the first and last in the window."""
        return calls_per_s(self.previews)

    def row(self) -> str:
        """Its row in the previews table."""
        start, end = (self.previews[0], self.previews[-1]) if self.previews else (0.0, -1.0)
        gap = max((b - a for a, b in itertools.pairwise(self.previews)), default=None)
        return (
            f"{self.side} | {fixed(self.window_s)} | {len(self.previews):,} | "
            f"{fixed(self.calls_per_s)} | {max_in_window(self.previews)} | {fixed(gap)} | "
            f"{len(within(self.listflow, start, end)):,} | {self.throttled:,} | "
            f"{self.outcomes.count(BUSY):,} | {self.outcomes.count(OTHER):,}"
        )


async def preview_load(
    previews: PreviewService, workers: int, ids: itertools.count[int], until: Awaitable[object]
) -> tuple[list[str], str | None]:
    """`workers` asks for new flows in flight until `until` is done; outcomes, first error."""
    outcomes: list[str] = []
    errors: list[str] = []
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            try:
                await previews.get(str(PREVIEW_FLOW_BASE + next(ids)))
                outcomes.append(OK)
            except (CamsError, BusyError) as error:
                outcomes.append(outcome_of(error))
                if outcomes[-1] == OTHER:
                    errors.append(repr(error))

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
        try:
            await until
        finally:
            stop.set()
    return outcomes, errors[0] if errors else None


async def previews(
    emulator: EmulatorControl,
    workers: int,
    ids: itertools.count[int],
    peer_of: tuple[float, float] | None = None,
) -> Previews:
    """Measurement 4: uncached previews for as long as a full refresh runs, one service; the
    window is the refresh's first to last ListFlow call at the emulator. With `peer_of` (a
    window and a run time), its peer: the same load for as long with no refresh."""
    await emulator.reset()
    refreshing: asyncio.Future[Refresh] | None = None
    async with service(emulator) as previews:
        if peer_of is None:
            progress(f"previews: {workers} in flight while {CATALOG_SIZE:,} flows are refreshed")
            refreshing = asyncio.ensure_future(refresh("alongside", previews.catalog, emulator))
            outcomes, first_error = await preview_load(previews, workers, ids, refreshing)
        else:
            progress(f"previews: {workers} in flight for {peer_of[1]:.0f} s with no refresh ...")
            sleeping = asyncio.sleep(peer_of[1])
            outcomes, first_error = await preview_load(previews, workers, ids, sleeping)
    stats = await emulator.stats()
    listflow = arrivals(stats, Action.LIST_FLOW)
    calls = arrivals(stats, Action.GET_FLOW_PREVIEW_URL)
    if peer_of is None:
        start, end = (listflow[0], listflow[-1]) if listflow else (0.0, 0.0)
    else:
        start = calls[0] if calls else 0.0
        end = start + peer_of[0]
    return Previews(
        "with a full refresh running" if peer_of is None else "no refresh (peer)",
        end - start,
        within(calls, start, end),
        listflow,
        stats.counts.get(THROTTLED_OUTCOME, 0),
        outcomes,
        first_error,
        None if refreshing is None else refreshing.result(),
    )


@dataclass(frozen=True, slots=True)
class Results:
    """Everything measured in one run."""

    options: list[OptionsRun]
    search: tuple[Side, Side]
    refresh: Refresh
    refresh_peer: Refresh
    during: Previews
    alone: Previews
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]

    @property
    def targets(self) -> list[Target]:
        """Every target."""
        ours = self.options[0]
        options_p99 = percentile(ours.server_ms(), 99)
        answered = f"{len(ours.kinds) - len(ours.errors)}/{len(ours.kinds)}"
        search_p99 = percentile(self.search[0].all_times(), 99)
        r, d = self.refresh, self.during
        alongside = d.refresh.flows if d.refresh is not None else None
        throttled = d.throttled + d.outcomes.count(THROTTLED)
        busiest = max_in_window(d.previews)
        return [
            target("options p99 at the server", options_p99, "<=", OPTIONS_P99_TARGET_MS, " ms"),
            Target("options answered without error, none 'loading'", answered, not ours.errors),
            target("ListFlow calls answering options (catalog only)", ours.listflow_calls, "=", 0),
            target("name search p99", search_p99, "<=", SEARCH_P99_TARGET_MS, " ms"),
            target("ListFlow calls for a full refresh", len(r.listflow), "=", EXPECTED_PAGES),
            target("flows listed", r.flows, "=", CATALOG_SIZE),
            target("throttled answers during the refresh", r.throttled, "=", 0),
            *budget_targets("previews, refreshing: ", busiest, d.calls_per_s, throttled),
            target("flows listed by the refresh alongside", alongside, "=", CATALOG_SIZE),
        ]


async def run(args: argparse.Namespace) -> Results:
    """Search first, on a quiet machine; then the options; then the throttled measurements."""
    load_before = os.getloadavg()
    flows = [seeded.summary for seeded in catalog_of_size(CATALOG_SIZE)[SPACE]]
    progress(f"search: {args.search_queries:,} queries on each side ...")
    rng = random.Random(args.seed)  # noqa: S311 - test data
    search = run_queries(
        SearchIndex.build(flows), flows, make_queries(flows, args.search_queries, rng)
    )
    async with controlled_emulator("--qps", "0", *CATALOG_FLAGS) as unthrottled:
        options_result = await options(args, unthrottled, flows)
        refresh_peer = await unlimited_refresh(unthrottled)
    async with controlled_emulator("--qps", str(RATE), *CATALOG_FLAGS) as throttled:
        progress(f"refresh: {CATALOG_SIZE:,} flows through the limiter at {RATE}/s ...")
        await throttled.reset()
        async with service(throttled) as limited_service:
            side = "flowpreview: ListFlow limiter CAMS_QPS=5, emulator throttling 5/s"
            limited = await refresh(side, limited_service.catalog, throttled)
        ids = itertools.count()
        during = await previews(throttled, args.workers, ids)
        run_s = (during.refresh or limited).wall_s
        alone = await previews(throttled, args.workers, ids, (during.window_s, run_s))
    return Results(
        options_result, search, limited, refresh_peer, during, alone, load_before, os.getloadavg()
    )


def render(results: Results, args: argparse.Namespace) -> str:
    """The report: machine and setup, one section per measurement, then the targets."""
    o = results.options
    loads = [
        ", ".join(f"{x:.2f}" for x in load) for load in (results.load_before, results.load_after)
    ]
    options_rows = [
        f"{r.side} | {len(r.kinds):,} | {len(r.errors):,} | "
        f"{quantiles(r.server_ms(), 50, 99, 100)} | {quantiles(r.round_trips, 50, 99, scale=MS)} | "
        f"{r.listflow_calls:,} | {fixed(r.cpu_ms(0))} | {fixed(r.cpu_ms(1))} | "
        f"{share(r.cpu.others_busy)}"
        for r in o
    ]
    kinds_headers = ["query", "requests"]
    for at in range(len(o)):
        label = f"peer {at}" if at else "ours"
        kinds_headers += [f"{label} server p50 ms", f"{label} p99 ms", f"{label} lists flows"]
    kinds_rows = [
        f"{kind} | {o[0].kinds.count(kind):,} | "
        + " | ".join(f"{quantiles(r.server_ms(kind), 50, 99)} | {r.listing(kind)}" for r in o)
        for kind in OPTION_KINDS
        if kind in o[0].kinds
    ]
    lines = [
        f"Load average before the run: {loads[0]}; after it: {loads[1]}.",
        f"## 1. The picker's options request, {len(o[0].kinds):,} requests at "
        f"{args.rate:g}/s (open loop)",
        "'server': inside the aiohttp app, not writing the answer; 'round trip': from the "
        f"scheduled send. Real CAMS allows {RATE} ListFlow calls/s per account.",
        markdown_table(
            "answered by | requests | errors | server p50 ms | server p99 ms | server max ms | "
            "round trip p50 ms | round trip p99 ms | ListFlow calls | server CPU ms/req | "
            "emulator CPU ms/req | other processes' cores busy",
            options_rows,
        ),
        "By kind of query ('lists flows': answers offering a flow; for a miss, none is right):",
        markdown_table(" | ".join(kinds_headers), kinds_rows),
        f"## 2. Name search on the same {CATALOG_SIZE:,} flows",
        search_table(*results.search),
        f"## 3. The ListFlow calls of one full refresh ({CATALOG_SIZE:,} flows, page size "
        f"{PAGE_SIZE})",
        markdown_table(
            "refresh | ListFlow calls | flows listed | wall s | first to last ListFlow s | "
            "ListFlow calls/s | max ListFlow in any 1 s | throttled answers",
            [results.refresh.row(), results.refresh_peer.row()],
        ),
        f"## 4. Uncached previews while a full refresh runs ({args.workers} asks in flight)",
        markdown_table(
            "previews | window s | GetFlowPreviewUrl calls in it | calls/s | busiest 1 s | "
            "longest gap s | ListFlow calls in it | throttled answers | Busy | other failures",
            [results.during.row(), results.alone.row()],
        ),
        "## Targets",
        targets_table(results.targets),
    ]
    lines += [f"ERRORS {r.side}: {len(r.errors)}; first: {r.errors[0]}" for r in o if r.errors]
    for p in (results.during, results.alone):
        if p.first_error:
            lines.append(f"ERRORS previews {p.side}: first: {p.first_error}")
    for refreshed in (results.refresh, results.refresh_peer):
        if refreshed.failure:
            lines.append(f"REFRESH FAILED {refreshed.side}: {refreshed.failure}")
    return "\n\n".join(lines)


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or an error."""
    cli = parser(__doc__, "bench.bench_catalog")
    cli.add_argument("--rate", type=positive_float, default=40.0, help="options requests/s")
    cli.add_argument("--duration", type=positive_float, default=10.0, help="seconds at --rate")
    cli.add_argument("--latency", type=non_negative_float, default=0.08, help="0 skips that peer")
    cli.add_argument("--workers", type=positive_int, default=10, help="preview asks in flight")
    cli.add_argument("--search-queries", type=positive_int, default=2_000)
    cli.add_argument("--seed", type=int, default=0, help="for the queries")
    args = cli.parse_args()
    results = measured(run(args))
    ok = not any(r.errors for r in results.options) and all(t.met for t in results.targets)
    return finish(args, __doc__, render(results, args), results, ok, *DISTRIBUTIONS)


if __name__ == "__main__":
    sys.exit(main())
