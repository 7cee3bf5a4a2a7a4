"""Benchmark the flow catalog on a space of 10,000 flows: picker options, search, refresh, budget.

Run from the project root::

    python -m bench.bench_catalog [--rate N] [--duration S] [--latency S] [--workers N]
                                  [--search-queries N] [--seed N] [--json PATH]

The CAMS emulator runs as a separate process with `--catalog-size 10000` (10,000 flows in the
default space, cams-demo), once with throttling off and once at 5 calls/s per account and
action, as CAMS. Every call figure is the emulator's own count from /_emulator/stats.

1. The picker's options request (a signed `block_suggestion` for the flow external_select,
   POSTed to /slack/events over loopback) at a fixed offered rate, open loop, with a mix of
   what people type (OPTION_KINDS). Timed at the server by an aiohttp middleware around the
   events handler (bench/catalog_servers.py), and as the client's round trip. flowpreview is
   the bot as `serve` builds it, its catalog warmed first. The peer, in the same run, is the
   same request answered by a live ListFlow (FlowName = the typed text, Size 100) in a Bolt
   app configured as the bot's behind the same events handler; it runs against the emulator
   with throttling off, and once more with every ListFlow answered --latency s late.
2. Name search on the same 10,000 flows beside a plain substring scan (bench_search's).
3. One full refresh of the catalog through the preview service's ListFlow limiter
   (CAMS_QPS=5) against the throttling emulator: ListFlow calls, wall time, throttled answers.
   Peer: the same refresh with no limiter against the emulator with throttling off.
4. Uncached previews (distinct flow IDs, --workers asks always in flight, which is more than
   5/s needs) for as long as a full refresh runs, through one PreviewService, against the
   throttling emulator: GetFlowPreviewUrl calls/s within the refresh's window as the emulator
   saw them. Peer: the same preview load for the same time with no refresh.

Clients make one attempt per call in 3 and 4, so a throttled answer is counted, not retried
away. The exit status is 1 when a target is missed or a request failed.
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
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.bench_search import make_queries, run_queries, with_typo
from bench.bench_slack import BOT_TOKEN, SIGNING_SECRET, Server, running_server, server_env
from bench.catalog_servers import CATALOG, LIVE, SEQUENCE_HEADER, TIMINGS_PATH
from bench.support import (
    BUSY,
    CONTROL_TIMEOUT,
    HOST,
    OK,
    OTHER,
    THROTTLED,
    THROTTLED_OUTCOME,
    EmulatorControl,
    EmulatorStats,
    Target,
    describe_machine,
    free_port,
    inherited_env,
    machine,
    machine_cpu_seconds,
    markdown_table,
    non_negative_float,
    percentile,
    positive_float,
    positive_int,
    process_cpu_seconds,
    progress,
    python_process,
    seconds,
    targets_table,
    write_json,
)
from bot.cams.actions import Action
from bot.cams.client import CamsClient
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowSummary
from bot.cams.settings import CamsSettings
from bot.config import Endpoint
from bot.preview.catalog import FlowCatalog, Snapshot
from bot.preview.errors import Busy
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
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers

CATALOG_SIZE = 10_000
SPACE = DEMO_SPACE
ACCOUNT = DEMO_CREDENTIALS.access_key_id
QPS = 5
PAGE_SIZE = 100
# Full pages, then the empty one that ends a list whose length is a multiple of the size.
EXPECTED_PAGES = CATALOG_SIZE // PAGE_SIZE + 1
OPTIONS_P99_TARGET_MS = 50.0
SEARCH_P99_TARGET_MS = 5.0
RATE_TARGET = 4.5
MS = 1000.0
# Slack shows an error when the options have not come within 3 s; so does this benchmark.
SLACK_OPTIONS_TIMEOUT = aiohttp.ClientTimeout(total=3.0)
# The bot's own catalog is warmed before it is timed: its first refresh, unthrottled.
WARM_TIMEOUT_S = 60.0
WARM_REQUESTS = 40
OPTION_KINDS = ("empty", "1-3 letter prefix", "whole words", "typo", "miss")
OPTION_WEIGHTS = (10, 30, 25, 20, 15)
MISS_LETTERS = "bcdfghjklmnpqrstvwxz"
# Option values that are not flows: the catalog was not ready, or listing failed.
NOT_ANSWERS = (modals.LOADING, modals.DENIED, modals.UNAVAILABLE)
# Sixteen digits, far from the catalog's IDs, so every preview ask is a cache miss.
PREVIEW_FLOW_BASE = 5_000_000_000_000_000
# One attempt per call, and a deadline beyond any wait at the gate with this many in flight.
DEADLINE_S = 30.0

FLOWPREVIEW_SIDE = "flowpreview: cached catalog"
LIVE_SIDE = "peer: live ListFlow per request"


# --- the emulator ---------------------------------------------------------------------


class CatalogEmulator:
    """The emulator with 10,000 flows in SPACE, and its controls."""

    def __init__(self, control: EmulatorControl, session: aiohttp.ClientSession, pid: int) -> None:
        self.control = control
        self._session = session
        self.pid = pid

    @property
    def base_url(self) -> str:
        """Where CAMS is."""
        return self.control.base_url

    async def reset(self) -> None:
        """Forget arrivals, windows and counts."""
        await self.control.reset()

    async def stats(self) -> EmulatorStats:
        """What it received since the last reset."""
        return await self.control.stats()

    async def faults(self, rules: Sequence[str]) -> None:
        """Replace the fault rules."""
        url = f"{self.base_url}/_emulator/faults"
        async with self._session.put(url, json={"rules": list(rules)}) as response:
            response.raise_for_status()


@contextlib.asynccontextmanager
async def catalog_emulator(qps: int) -> AsyncIterator[CatalogEmulator]:
    """`python -m bot emulator --catalog-size CATALOG_SIZE` on a free port until the block ends.

    Without an AccessKey in its environment (inherited_env drops ours) it takes the demo key.
    """
    port = free_port()
    command = ["-m", "bot", "emulator", "--host", HOST, "--port", str(port), "--qps", str(qps)]
    command += ["--catalog-size", str(CATALOG_SIZE)]
    async with (
        python_process(command, inherited_env()) as process,
        aiohttp.ClientSession(timeout=CONTROL_TIMEOUT) as session,
    ):
        control = EmulatorControl(session, f"http://{HOST}:{port}", port)
        await control.wait_until_ready(process)
        yield CatalogEmulator(control, session, process.pid)


def cams_settings(emulator: CatalogEmulator) -> CamsSettings:
    """SPACE by default, one attempt per call: a throttled answer is counted, not retried."""
    return CamsSettings(
        Endpoint.parse(emulator.base_url),
        default_space=SPACE,
        max_attempts=1,
        deadline=DEADLINE_S,
    )


def listflow_arrivals(stats: EmulatorStats) -> list[float]:
    """The emulator's ListFlow arrival times from the demo account."""
    return stats.arrivals.get(arrival_key(ACCOUNT, Action.LIST_FLOW), [])


def preview_arrivals(stats: EmulatorStats) -> list[float]:
    """The emulator's GetFlowPreviewUrl arrival times from the demo account."""
    return stats.arrivals.get(arrival_key(ACCOUNT, Action.GET_FLOW_PREVIEW_URL), [])


def rate(times: Sequence[float]) -> float | None:
    """Calls per second between the first and last of `times`; None with under two."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def longest_gap(times: Sequence[float]) -> float | None:
    """The longest time between two consecutive `times`; None with under two."""
    return max((b - a for a, b in itertools.pairwise(times)), default=None)


# --- 1. the options request -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OptionQuery:
    """What a person typed into the picker, and what kind of typing it is."""

    kind: str
    text: str


def option_queries(
    flows: Sequence[FlowSummary], count: int, rng: random.Random
) -> list[OptionQuery]:
    """`count` queries of OPTION_KINDS drawn by OPTION_WEIGHTS, from random flows' names."""
    queries = []
    for kind in rng.choices(OPTION_KINDS, OPTION_WEIGHTS, k=count):
        queries.append(OptionQuery(kind, typed(kind, flows, rng)))
    return queries


def typed(kind: str, flows: Sequence[FlowSummary], rng: random.Random) -> str:
    """One query of `kind`, in lower case as people type into a search box."""
    if kind == "empty":
        return ""
    if kind == "miss":
        return " ".join(
            "".join(rng.choices(MISS_LETTERS, k=rng.randint(4, 8)))
            for _ in range(rng.randint(1, 2))
        )
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
        misspelt = with_typo(text, rng)
        if misspelt != text:
            return misspelt


@dataclass(frozen=True, slots=True)
class Answer:
    """One options request: its round trip, whether it listed a flow, what went wrong."""

    round_trip_s: float
    lists_flows: bool
    error: str | None


class Picker:
    """Sends the picker's signed options requests and judges the answers."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session
        view = modals.picker_view((SpaceChoice(SPACE, SPACE),))
        # Slack's stored view has an ID, which the request's container names.
        self._view = {"id": "VBENCHPICKER", **view}

    async def ask(self, server: Server, query: str, sequence: int) -> tuple[bool, str | None]:
        """One request; whether the answer lists a flow, and what was wrong with it if any."""
        # Slack signs every request as it sends it.
        body = payloads.block_suggestion(
            self._view, block_id=PICKER_FLOW_BLOCK_ID, action_id=PICKER_FLOW_ACTION_ID, value=query
        )
        headers = signed_headers(SIGNING_SECRET, body) | {SEQUENCE_HEADER: str(sequence)}
        try:
            async with self._session.post(server.events_url, data=body, headers=headers) as answer:
                content = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return False, f"{type(exc).__name__}: {exc}"
        if status != 200:
            return False, f"HTTP {status}: {content[:200]!r}"
        try:
            options = json.loads(content)["options"]
            values = [str(option["value"]) for option in options]
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


@dataclass(slots=True)
class OptionsRun:
    """One side's options requests: kinds, answers, the server's times, and the costs."""

    side: str
    kinds: list[str]
    answers: list[Answer]
    server_s: dict[int, float] = field(default_factory=dict)
    listflow_calls: int = 0
    wall_s: float = 0.0
    server_cpu_s: float | None = None
    emulator_cpu_s: float | None = None
    client_cpu_s: float = 0.0
    machine_cpu_s: float | None = None

    def per_request_ms(self, cpu_s: float | None) -> float | None:
        """CPU milliseconds per request, where /proc tells."""
        return None if cpu_s is None or not self.answers else cpu_s * MS / len(self.answers)

    @property
    def others_busy(self) -> float | None:
        """Cores' worth of CPU every other process used meanwhile (not the server, the
        emulator or this process), where /proc tells: load that may skew the figures."""
        machine, server, emulator = self.machine_cpu_s, self.server_cpu_s, self.emulator_cpu_s
        if machine is None or server is None or emulator is None or self.wall_s <= 0:
            return None
        # The counts are in 10 ms ticks, so an idle rest can come out a little below zero.
        rest = machine - server - emulator - self.client_cpu_s
        return max(0.0, rest) / self.wall_s

    @property
    def errors(self) -> list[str]:
        """What went wrong, request by request."""
        return [a.error for a in self.answers if a.error is not None]

    def server_ms(self, kind: str | None = None) -> list[float]:
        """Server times in ms, of one kind of query or of all."""
        return [
            spent * MS
            for at, spent in self.server_s.items()
            if kind is None or self.kinds[at] == kind
        ]

    def round_trip_ms(self, kind: str | None = None) -> list[float]:
        """Client round trips in ms, of one kind of query or of all."""
        return [
            a.round_trip_s * MS
            for a, k in zip(self.answers, self.kinds, strict=True)
            if kind is None or k == kind
        ]

    def listing(self, kind: str) -> tuple[int, int]:
        """How many answers to queries of `kind` listed a flow, of how many."""
        of_kind = [a for a, k in zip(self.answers, self.kinds, strict=True) if k == kind]
        return sum(a.lists_flows for a in of_kind), len(of_kind)

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {
            "side": self.side,
            "requests": len(self.answers),
            "errors": len(self.errors),
            "first_error": self.errors[0] if self.errors else None,
            "server_p50_ms": percentile(self.server_ms(), 50),
            "server_p99_ms": percentile(self.server_ms(), 99),
            "round_trip_p50_ms": percentile(self.round_trip_ms(), 50),
            "round_trip_p99_ms": percentile(self.round_trip_ms(), 99),
            "listflow_calls": self.listflow_calls,
            "wall_s": self.wall_s,
            "server_cpu_s": self.server_cpu_s,
            "emulator_cpu_s": self.emulator_cpu_s,
            "client_cpu_s": self.client_cpu_s,
            "machine_cpu_s": self.machine_cpu_s,
            "kinds": self.kinds,
            "server_s": [self.server_s.get(at) for at in range(len(self.kinds))],
            "round_trip_s": [a.round_trip_s for a in self.answers],
            "lists_flows": [a.lists_flows for a in self.answers],
        }


async def open_loop(
    picker: Picker, server: Server, queries: Sequence[OptionQuery], rate_per_s: float
) -> list[Answer]:
    """Send every query at its fixed time, whatever the answers do; round trips from then."""
    loop = asyncio.get_running_loop()
    answers: list[Answer | None] = [None] * len(queries)

    async def one(at: int, scheduled: float) -> None:
        lists, error = await picker.ask(server, queries[at].text, at)
        # From the scheduled time: any lag of this process's own is charged too.
        answers[at] = Answer(loop.time() - scheduled, lists, error)

    start = loop.time()
    async with asyncio.TaskGroup() as group:
        for at in range(len(queries)):
            scheduled = start + at / rate_per_s
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            group.create_task(one(at, scheduled))
    return [answer for answer in answers if answer is not None]


async def warm(picker: Picker, server: Server, queries: Sequence[OptionQuery]) -> None:
    """Until the server lists flows (the bot's first catalog refresh), then a few requests."""
    deadline = time.monotonic() + WARM_TIMEOUT_S
    while True:
        lists, error = await picker.ask(server, "", -1)
        if lists:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{server.name} listed no flows in {WARM_TIMEOUT_S:g}s: {error}")
        await asyncio.sleep(0.2)
    for at in range(WARM_REQUESTS):
        _, error = await picker.ask(server, queries[at % len(queries)].text, -1)
        if error is not None:
            raise RuntimeError(f"{server.name} failed while warming: {error}")
    await picker.take_timings(server)


async def measure_options(
    picker: Picker,
    server: Server,
    side: str,
    *,
    emulator: CatalogEmulator,
    queries: Sequence[OptionQuery],
    rate_per_s: float,
) -> OptionsRun:
    """The queries at `rate_per_s` against `server`, timed at both ends, with its costs."""
    progress(f"options: {side}: {len(queries)} requests at {rate_per_s:g}/s ...")
    await emulator.reset()
    machine_cpu = machine_cpu_seconds()
    server_cpu = process_cpu_seconds(server.pid)
    emulator_cpu = process_cpu_seconds(emulator.pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    answers = await open_loop(picker, server, queries, rate_per_s)
    wall_s = time.perf_counter() - started
    client_cpu_s = time.process_time() - client_cpu
    server_cpu_after = process_cpu_seconds(server.pid)
    emulator_cpu_after = process_cpu_seconds(emulator.pid)
    machine_cpu_after = machine_cpu_seconds()
    run = OptionsRun(side, [q.kind for q in queries], answers, wall_s=wall_s)
    run.server_s = {
        at: spent for at, spent in (await picker.take_timings(server)).items() if at >= 0
    }
    run.listflow_calls = len(listflow_arrivals(await emulator.stats()))
    run.server_cpu_s = difference(server_cpu, server_cpu_after)
    run.emulator_cpu_s = difference(emulator_cpu, emulator_cpu_after)
    run.client_cpu_s = client_cpu_s
    run.machine_cpu_s = difference(machine_cpu, machine_cpu_after)
    return run


def difference(before: float | None, after: float | None) -> float | None:
    """`after - before`, or None when either is unknown."""
    return None if before is None or after is None else after - before


def options_env(port: int, fake: FakeSlack, emulator: CatalogEmulator) -> dict[str, str]:
    """A server's environment: bench_slack's, with SPACE as the default space.

    ListFlow's own budget is raised so that the bot's first refresh, which only warms it,
    does not take the 20 s that CAMS_QPS=5 would.
    """
    return server_env(port, fake, emulator.control) | {
        "CAMS_CUST_SPACE_ID": SPACE,
        "CAMS_QPS_LISTFLOW": "1000",
    }


@dataclass(frozen=True, slots=True)
class OptionsResult:
    """Measurement 1: flowpreview and its peers on the same queries."""

    rate: float
    ours: OptionsRun
    peers: list[OptionsRun]

    @property
    def runs(self) -> list[OptionsRun]:
        """Every side, ours first."""
        return [self.ours, *self.peers]

    @property
    def targets(self) -> list[Target]:
        """The options path's targets."""
        p99 = percentile(self.ours.server_ms(), 99)
        return [
            Target(
                f"options p99 at the server <= {OPTIONS_P99_TARGET_MS:g} ms",
                f"{p99:.2f} ms",
                p99 <= OPTIONS_P99_TARGET_MS,
            ),
            Target(
                "options answered without error, none 'loading'",
                f"{len(self.ours.answers) - len(self.ours.errors)}/{len(self.ours.answers)}",
                not self.ours.errors,
            ),
            Target(
                "ListFlow calls while answering options = 0 (catalog only)",
                str(self.ours.listflow_calls),
                self.ours.listflow_calls == 0,
            ),
        ]


# --- 3. one full refresh --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Refresh:
    """One full refresh: what it listed, how long it took, what the emulator saw."""

    side: str
    flows: int
    wall_s: float
    listflow: list[float]
    throttled: int
    failure: str | None

    def to_json(self) -> dict[str, Any]:
        """The raw figures, arrivals as seconds after the first."""
        first = self.listflow[0] if self.listflow else 0.0
        return {
            "side": self.side,
            "flows": self.flows,
            "wall_s": self.wall_s,
            "listflow_calls": len(self.listflow),
            "throttled": self.throttled,
            "failure": self.failure,
            "listflow_arrivals_s": [t - first for t in self.listflow],
        }


async def timed_refresh(catalog: FlowCatalog) -> tuple[Snapshot | None, float]:
    """Start a refresh of SPACE and wait for its end; the snapshot and the wall time."""
    started = time.perf_counter()
    catalog.peek(SPACE)
    snapshot = await catalog.refreshed(SPACE)
    return snapshot, time.perf_counter() - started


async def refresh_result(
    side: str,
    catalog: FlowCatalog,
    emulator: CatalogEmulator,
    snapshot: Snapshot | None,
    wall: float,
) -> Refresh:
    """What one refresh came to, the emulator's view included."""
    stats = await emulator.stats()
    failure = None if snapshot is not None else str(catalog.state(SPACE))
    return Refresh(
        side,
        len(snapshot.flows) if snapshot is not None else 0,
        wall,
        listflow_arrivals(stats),
        stats.counts.get(THROTTLED_OUTCOME, 0),
        failure,
    )


async def limited_refresh(emulator: CatalogEmulator) -> Refresh:
    """Measurement 3: a full refresh through the service's ListFlow limiter at CAMS_QPS=5."""
    progress(f"refresh: {CATALOG_SIZE:,} flows through the limiter at {QPS}/s ...")
    await emulator.reset()
    async with PreviewService.create(
        DEMO_CREDENTIALS, cams_settings(emulator), PreviewSettings(limiter=LimiterSettings())
    ) as service:
        snapshot, wall = await timed_refresh(service.catalog)
        return await refresh_result(
            "flowpreview: ListFlow limiter CAMS_QPS=5, emulator throttling 5/s",
            service.catalog,
            emulator,
            snapshot=snapshot,
            wall=wall,
        )


async def unlimited_refresh(emulator: CatalogEmulator) -> Refresh:
    """The peer of measurement 3: no limiter, the emulator's throttling off."""
    progress(f"refresh: {CATALOG_SIZE:,} flows with no limiter, throttling off ...")
    await emulator.reset()
    async with CamsClient(DEMO_CREDENTIALS, cams_settings(emulator)) as client:
        catalog = FlowCatalog(client, page_size=PAGE_SIZE)
        try:
            snapshot, wall = await timed_refresh(catalog)
            return await refresh_result(
                "peer: no limiter, emulator throttling off (not possible against CAMS)",
                catalog,
                emulator,
                snapshot=snapshot,
                wall=wall,
            )
        finally:
            await catalog.close()


# --- 4. previews while a refresh runs -------------------------------------------------


@dataclass(slots=True)
class PreviewTally:
    """The outcomes of the preview asks, as the callers saw them."""

    outcomes: list[str] = field(default_factory=list)
    first_error: str | None = None

    def count(self, outcome: str) -> int:
        """Asks that came to `outcome`."""
        return self.outcomes.count(outcome)


async def preview_load(
    service: PreviewService, workers: int, ids: itertools.count[int], until: Awaitable[object]
) -> PreviewTally:
    """`workers` asks for new flows always in flight until `until` is done; then the last
    asks are let finish (their calls fall outside the measured window)."""
    tally = PreviewTally()
    stop = asyncio.Event()

    async def worker() -> None:
        while not stop.is_set():
            outcome = OK
            try:
                await service.get(str(PREVIEW_FLOW_BASE + next(ids)))
            except CamsError as error:
                outcome = THROTTLED if error.kind is ErrorKind.THROTTLED else OTHER
                if outcome == OTHER:
                    tally.first_error = tally.first_error or repr(error)
            except Busy:
                outcome = BUSY
            tally.outcomes.append(outcome)

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
        try:
            await until
        finally:
            stop.set()
    return tally


@dataclass(frozen=True, slots=True)
class PreviewRun:
    """Preview calls in one window, as the emulator saw them, and the callers' outcomes."""

    side: str
    window_s: float
    previews: list[float]
    listflow: list[float]
    throttled: int
    tally: PreviewTally
    refresh: Refresh | None

    @property
    def calls_per_s(self) -> float | None:
        """GetFlowPreviewUrl calls/s between the first and last in the window."""
        return rate(self.previews)

    def to_json(self) -> dict[str, Any]:
        """The raw figures, arrivals as seconds after the window's start."""
        start = self.previews[0] if self.previews else 0.0
        return {
            "side": self.side,
            "window_s": self.window_s,
            "preview_calls": len(self.previews),
            "calls_per_s": self.calls_per_s,
            "max_in_any_second": max_in_window(self.previews),
            "longest_gap_s": longest_gap(self.previews),
            "listflow_calls": len(self.listflow),
            "throttled_at_server": self.throttled,
            "asks": {o: self.tally.count(o) for o in (OK, THROTTLED, BUSY, OTHER)},
            "first_error": self.tally.first_error,
            "refresh": None if self.refresh is None else self.refresh.to_json(),
            "preview_arrivals_s": [t - start for t in self.previews],
        }


def within(times: Sequence[float], start: float, end: float) -> list[float]:
    """The `times` from `start` to `end`, both included."""
    return [t for t in times if start <= t <= end]


async def previews_with_refresh(
    emulator: CatalogEmulator, workers: int, ids: itertools.count[int]
) -> PreviewRun:
    """Measurement 4: uncached previews for as long as a full refresh runs, one service."""
    progress(f"previews: {workers} in flight while {CATALOG_SIZE:,} flows are refreshed ...")
    await emulator.reset()
    async with PreviewService.create(
        DEMO_CREDENTIALS, cams_settings(emulator), PreviewSettings(limiter=LimiterSettings())
    ) as service:
        refreshing = asyncio.ensure_future(timed_refresh(service.catalog))
        tally = await preview_load(service, workers, ids, refreshing)
        snapshot, wall = refreshing.result()
        refresh = await refresh_result(
            "during measurement 4", service.catalog, emulator, snapshot=snapshot, wall=wall
        )
    stats = await emulator.stats()
    listflow = listflow_arrivals(stats)
    # The refresh's window as the emulator saw it: its first ListFlow call to its last.
    start, end = (listflow[0], listflow[-1]) if listflow else (0.0, 0.0)
    return PreviewRun(
        "with a full refresh running",
        end - start,
        within(preview_arrivals(stats), start, end),
        listflow,
        stats.counts.get(THROTTLED_OUTCOME, 0),
        tally,
        refresh,
    )


async def previews_alone(
    emulator: CatalogEmulator,
    workers: int,
    ids: itertools.count[int],
    window_s: float,
    run_s: float,
) -> PreviewRun:
    """The peer of measurement 4: the same preview load for as long, with no refresh."""
    progress(f"previews: {workers} in flight for {run_s:.0f} s with no refresh ...")
    await emulator.reset()
    async with PreviewService.create(
        DEMO_CREDENTIALS, cams_settings(emulator), PreviewSettings(limiter=LimiterSettings())
    ) as service:
        tally = await preview_load(service, workers, ids, asyncio.sleep(run_s))
    stats = await emulator.stats()
    arrivals = preview_arrivals(stats)
    start = arrivals[0] if arrivals else 0.0
    return PreviewRun(
        "no refresh (peer)",
        window_s,
        within(arrivals, start, start + window_s),
        listflow_arrivals(stats),
        stats.counts.get(THROTTLED_OUTCOME, 0),
        tally,
        None,
    )


# --- 2. name search -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Measurement 2: both searchers' times (ms) and good answers over the same queries."""

    queries: int
    ours_ms: list[float]
    ours_good: int
    peer_ms: list[float]
    peer_good: int

    @property
    def targets(self) -> list[Target]:
        """Search's target."""
        p99 = percentile(self.ours_ms, 99)
        return [
            Target(
                f"name search p99 <= {SEARCH_P99_TARGET_MS:g} ms",
                f"{p99:.2f} ms",
                p99 <= SEARCH_P99_TARGET_MS,
            )
        ]

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {
            "queries": self.queries,
            "ours_ms": self.ours_ms,
            "ours_good": self.ours_good,
            "peer_ms": self.peer_ms,
            "peer_good": self.peer_good,
        }


def measure_search(flows: Sequence[FlowSummary], count: int, seed: int) -> SearchResult:
    """bench_search's query mix over `flows`, SearchIndex beside its substring scan."""
    progress(f"search: {count:,} queries on each side ...")
    index = SearchIndex.build(flows)
    queries = make_queries(flows, count, random.Random(seed))  # noqa: S311 - test data
    ours, peer = run_queries(index, flows, queries)
    return SearchResult(
        count,
        ours.all_times(),
        sum(ours.good.values()),
        peer.all_times(),
        sum(peer.good.values()),
    )


# --- the run --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Results:
    """Everything measured in one run."""

    options: OptionsResult
    search: SearchResult
    refresh: Refresh
    refresh_peer: Refresh
    during: PreviewRun
    alone: PreviewRun
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wall_s: float

    @property
    def refresh_targets(self) -> list[Target]:
        """Measurement 3's targets."""
        r = self.refresh
        return [
            Target(
                f"ListFlow calls for a full refresh = {EXPECTED_PAGES}",
                str(len(r.listflow)),
                len(r.listflow) == EXPECTED_PAGES,
            ),
            Target(
                f"flows listed = {CATALOG_SIZE:,}",
                f"{r.flows:,}",
                r.flows == CATALOG_SIZE,
            ),
            Target("throttled answers during the refresh = 0", str(r.throttled), r.throttled == 0),
        ]

    @property
    def preview_targets(self) -> list[Target]:
        """Measurement 4's targets."""
        d = self.during
        per_s = d.calls_per_s
        busiest = max_in_window(d.previews)
        return [
            Target(
                f"preview calls/s at the server while a refresh runs >= {RATE_TARGET:g}",
                seconds(per_s),
                per_s is not None and per_s >= RATE_TARGET,
            ),
            Target(
                f"preview calls in any 1 s <= {QPS}",
                str(busiest),
                busiest <= QPS,
            ),
            Target(
                "throttled answers while previews and refresh run = 0",
                str(d.throttled),
                d.throttled == 0 and d.tally.count(THROTTLED) == 0,
            ),
            Target(
                "the refresh completed alongside",
                "n/a" if d.refresh is None else f"{d.refresh.flows:,} flows",
                d.refresh is not None and d.refresh.flows == CATALOG_SIZE,
            ),
        ]

    @property
    def targets(self) -> list[Target]:
        """Every target."""
        return [
            *self.options.targets,
            *self.search.targets,
            *self.refresh_targets,
            *self.preview_targets,
        ]


async def options_and_peers(
    args: argparse.Namespace, emulator: CatalogEmulator, flows: Sequence[FlowSummary]
) -> tuple[OptionsResult, Refresh]:
    """Measurement 1 on the unthrottled emulator, and the refresh peer while it is up."""
    queries = option_queries(
        flows,
        round(args.rate * args.duration),
        random.Random(args.seed),  # noqa: S311 - test data
    )
    async with (
        running_fake_slack(bot_token=BOT_TOKEN) as fake,
        aiohttp.ClientSession(
            timeout=SLACK_OPTIONS_TIMEOUT, connector=aiohttp.TCPConnector(limit=0)
        ) as session,
    ):
        picker = Picker(session)
        ours_env = options_env(free_port(), fake, emulator)
        live_env = options_env(free_port(), fake, emulator)
        progress("options: starting the bot and the live-ListFlow peer, warming the catalog ...")
        async with (
            running_server(
                FLOWPREVIEW_SIDE,
                ["-m", "bench.catalog_servers", CATALOG, "--port", ours_env["PORT"]],
                ours_env,
                session,
                {},
            ) as ours_server,
            running_server(
                LIVE_SIDE,
                ["-m", "bench.catalog_servers", LIVE, "--port", live_env["PORT"]],
                live_env,
                session,
                {},
            ) as live_server,
        ):
            await warm(picker, ours_server, queries)
            await warm(picker, live_server, queries)
            ours = await measure_options(
                picker,
                ours_server,
                FLOWPREVIEW_SIDE,
                emulator=emulator,
                queries=queries,
                rate_per_s=args.rate,
            )
            peers = [
                await measure_options(
                    picker,
                    live_server,
                    f"{LIVE_SIDE} (emulator, no throttling, no added latency)",
                    emulator=emulator,
                    queries=queries,
                    rate_per_s=args.rate,
                )
            ]
            if args.latency > 0:
                await emulator.faults([f"latency:{args.latency:g}@action:ListFlow"])
                try:
                    peers.append(
                        await measure_options(
                            picker,
                            live_server,
                            f"{LIVE_SIDE}, each ListFlow answered {args.latency * MS:.0f} ms "
                            "late (a network round trip)",
                            emulator=emulator,
                            queries=queries,
                            rate_per_s=args.rate,
                        )
                    )
                finally:
                    await emulator.faults([])
    refresh_peer = await unlimited_refresh(emulator)
    return OptionsResult(args.rate, ours, peers), refresh_peer


async def run(args: argparse.Namespace) -> Results:
    """Search first, on a quiet machine; then the options; then the throttled measurements."""
    started = time.perf_counter()
    load_before = os.getloadavg()
    flows = [seeded.summary for seeded in catalog_of_size(CATALOG_SIZE)[SPACE]]
    search = measure_search(flows, args.search_queries, args.seed)
    async with catalog_emulator(qps=0) as unthrottled:
        options, refresh_peer = await options_and_peers(args, unthrottled, flows)
    async with catalog_emulator(qps=QPS) as throttled:
        refresh = await limited_refresh(throttled)
        ids = itertools.count()
        during = await previews_with_refresh(throttled, args.workers, ids)
        run_s = during.refresh.wall_s if during.refresh is not None else refresh.wall_s
        alone = await previews_alone(
            throttled, args.workers, ids, window_s=during.window_s, run_s=run_s
        )
    return Results(
        options,
        search,
        refresh,
        refresh_peer,
        during,
        alone,
        load_before,
        os.getloadavg(),
        time.perf_counter() - started,
    )


# --- the report -----------------------------------------------------------------------


def ms(value: float | None) -> str:
    """Milliseconds with two decimals, or n/a."""
    return "n/a" if value is None else f"{value:.2f}"


def share(value: float | None) -> str:
    """A share of one core as a percentage, or n/a."""
    return "n/a" if value is None else f"{value * 100:.0f}%"


def options_table(result: OptionsResult) -> str:
    """Each side's server and round-trip times, its ListFlow calls and what it cost."""
    rows = []
    for r in result.runs:
        server, trip = r.server_ms(), r.round_trip_ms()
        rows.append(
            [
                r.side,
                f"{len(r.answers):,}",
                f"{len(r.errors):,}",
                ms(percentile(server, 50)),
                ms(percentile(server, 99)),
                ms(max(server, default=None)),
                ms(percentile(trip, 50)),
                ms(percentile(trip, 99)),
                f"{r.listflow_calls:,}",
                ms(r.per_request_ms(r.server_cpu_s)),
                ms(r.per_request_ms(r.emulator_cpu_s)),
                share(r.others_busy),
            ]
        )
    return markdown_table(
        [
            "answered by",
            "requests",
            "errors",
            "server p50 ms",
            "server p99 ms",
            "server max ms",
            "round trip p50 ms",
            "round trip p99 ms",
            "ListFlow calls",
            "server CPU ms/req",
            "emulator CPU ms/req",
            "other processes' cores busy",
        ],
        rows,
        align="l" + "r" * 11,
    )


def options_kinds_table(result: OptionsResult) -> str:
    """Per kind of query: each side's server p50/p99 and how often it listed a flow."""
    headers = ["query", "requests"]
    for r in result.runs:
        label = "ours" if r is result.ours else f"peer {result.peers.index(r) + 1}"
        headers += [f"{label} server p50 / p99 ms", f"{label} lists flows"]
    rows = []
    for kind in OPTION_KINDS:
        count = result.ours.kinds.count(kind)
        if not count:
            continue
        row = [kind, f"{count:,}"]
        for r in result.runs:
            times = r.server_ms(kind)
            listed, of = r.listing(kind)
            row += [f"{ms(percentile(times, 50))} / {ms(percentile(times, 99))}", f"{listed}/{of}"]
        rows.append(row)
    return markdown_table(headers, rows, align="lr" + "r" * (len(headers) - 2))


def search_table(result: SearchResult) -> str:
    """Both searchers over the same queries."""
    rows = [
        [
            name,
            f"{len(times):,}",
            ms(percentile(times, 50)),
            ms(percentile(times, 99)),
            ms(max(times)),
            f"{100 * good / len(times):.0f}%",
        ]
        for name, times, good in (
            ("SearchIndex.search (flowpreview)", result.ours_ms, result.ours_good),
            ("substring scan (peer)", result.peer_ms, result.peer_good),
        )
    ]
    return markdown_table(
        ["searcher", "queries", "p50 ms", "p99 ms", "max ms", "good answers"], rows, align="lrrrrr"
    )


def refresh_table(rows: Sequence[Refresh]) -> str:
    """Each refresh: calls, flows, time, the emulator's view."""
    return markdown_table(
        [
            "refresh",
            "ListFlow calls",
            "flows listed",
            "wall s",
            "first to last ListFlow s",
            "ListFlow calls/s",
            "max ListFlow in any 1 s",
            "throttled answers",
        ],
        [
            [
                r.side,
                f"{len(r.listflow):,}",
                f"{r.flows:,}",
                seconds(r.wall_s),
                seconds(r.listflow[-1] - r.listflow[0] if len(r.listflow) > 1 else None),
                seconds(rate(r.listflow)),
                str(max_in_window(r.listflow)),
                f"{r.throttled:,}",
            ]
            for r in rows
        ],
        align="lrrrrrrr",
    )


def previews_table(rows: Sequence[PreviewRun]) -> str:
    """Preview calls in each window, as the emulator saw them."""
    return markdown_table(
        [
            "previews",
            "window s",
            "GetFlowPreviewUrl calls in it",
            "calls/s",
            "busiest 1 s",
            "longest gap s",
            "ListFlow calls in it",
            "throttled answers",
            "Busy",
            "other failures",
        ],
        [
            [
                r.side,
                seconds(r.window_s),
                f"{len(r.previews):,}",
                seconds(r.calls_per_s),
                str(max_in_window(r.previews)),
                seconds(longest_gap(r.previews)),
                f"{len(within(r.listflow, r.previews[0], r.previews[-1])) if r.previews else 0:,}",
                f"{r.throttled:,}",
                f"{r.tally.count(BUSY):,}",
                f"{r.tally.count(OTHER):,}",
            ]
            for r in rows
        ],
        align="lrrrrrrrrr",
    )


def render(results: Results, args: argparse.Namespace) -> str:
    """The report: machine and setup, one section per measurement, then the targets."""
    o = results.options
    during_refresh = results.during.refresh
    load = ", ".join(f"{x:.2f}" for x in results.load_before)
    load_after = ", ".join(f"{x:.2f}" for x in results.load_after)
    lines = [
        f"# The flow catalog on a space of {CATALOG_SIZE:,} flows",
        "",
        describe_machine("slack-bolt", "rapidfuzz"),
        f"Load average before the run: {load}; after it: {load_after}. The emulator, each "
        "server and this process (load generator and in-process measurements) share the "
        "machine. The emulator is a separate process, plain http on loopback, with "
        f"`--catalog-size {CATALOG_SIZE}` ({CATALOG_SIZE:,} flows in {SPACE}, the default "
        "space). Call figures are the emulator's own.",
        "",
        f"## 1. The picker's options request, {len(o.ours.answers):,} requests at "
        f"{o.rate:g}/s (open loop)",
        "",
        "Signed `block_suggestion` bodies for the flow `external_select`, a mix of "
        f"{', '.join(OPTION_KINDS)} (weights {', '.join(map(str, OPTION_WEIGHTS))}), the same "
        "queries in the same order for every side. 'server': an aiohttp middleware around the "
        "events handler (verification, Bolt, the listener), excluding writing the answer; "
        "'round trip': from the scheduled send to the whole answer in the client. CPU from "
        "/proc; 'other processes': the rest of the machine (the idle server and the fake "
        "Slack included) over wall time. flowpreview "
        "is the bot as `serve` builds it, its catalog warmed first; the peer a Bolt app "
        "configured the same, behind the same events handler, answering each request with "
        f"one live `ListFlow(FlowName=<typed>, Size={modals.MAX_OPTIONS})` against the emulator "
        "with throttling off. Real CAMS adds its network round trip to every one of those "
        f"calls, and allows {QPS} ListFlow calls/s per account: at the {o.rate:g} requests/s "
        f"offered here all but {QPS} a second would be throttled.",
        "",
        options_table(o),
        "",
        "By kind of query (peers numbered as the rows above; 'lists flows': answers "
        "offering at least one flow, where for a miss the right answer offers none):",
        "",
        options_kinds_table(o),
        "",
        f"## 2. Name search on the same {CATALOG_SIZE:,} flows",
        "",
        f"bench_search's query mix ({results.search.queries:,} queries), one at a time in this "
        "process after a warm-up pass, limit 10; 'good': the source flow among the answers "
        "(for a miss: no answer). Peer: `query.casefold() in name`, first 10.",
        "",
        search_table(results.search),
        "",
        f"## 3. The ListFlow calls of one full refresh ({CATALOG_SIZE:,} flows, page size "
        f"{PAGE_SIZE})",
        "",
        "Through PreviewService.create's ListFlow limiter (production defaults: 5 calls per "
        "1 s kept 0.1 s apart, so 5 per 1.1 s) against the emulator throttling at 5/s per "
        f"account and action; {CATALOG_SIZE // PAGE_SIZE} full pages and the empty one that "
        "ends the list. The peer pages without any limiter against the unthrottled emulator.",
        "",
        refresh_table([results.refresh, results.refresh_peer]),
        "",
        "## 4. Uncached previews while a full refresh runs",
        "",
        f"{args.workers} preview asks for distinct flows always in flight (more than 5/s "
        "needs) through one PreviewService (its per-action limiters at CAMS_QPS=5), against "
        "the emulator throttling at 5/s per account and action. The window is the refresh's "
        "first to last ListFlow call at the emulator; the peer runs the same load as long "
        "with no refresh, measured over a window as long from its first call. calls/s: "
        "between the first and last preview call in the window.",
        "",
        previews_table([results.during, results.alone]),
        "",
    ]
    if during_refresh is not None:
        lines += [
            f"The refresh alongside listed {during_refresh.flows:,} flows in "
            f"{during_refresh.wall_s:.1f} s with {len(during_refresh.listflow)} ListFlow calls.",
            "",
        ]
    lines += ["## Targets", "", targets_table(results.targets), ""]
    lines.append(f"Measured in {results.wall_s:.0f} s.")
    for r in o.runs:
        if r.errors:
            lines.append(f"ERRORS {r.side}: {len(r.errors)}; first: {r.errors[0]}")
    for p in (results.during, results.alone):
        if p.tally.first_error:
            lines.append(f"ERRORS previews {p.side}: first: {p.tally.first_error}")
    for refresh in (results.refresh, results.refresh_peer):
        if refresh.failure:
            lines.append(f"REFRESH FAILED {refresh.side}: {refresh.failure}")
    return "\n".join(lines)


def to_json(results: Results, args: argparse.Namespace) -> dict[str, Any]:
    """Every raw figure."""
    return {
        **machine("slack-bolt", "rapidfuzz"),
        "settings": vars(args) | {"json": str(args.json)},
        "load_before": results.load_before,
        "load_after": results.load_after,
        "options": {"rate": results.options.rate}
        | {f"side_{at}": run.to_json() for at, run in enumerate(results.options.runs)},
        "search": results.search.to_json(),
        "refresh": results.refresh.to_json(),
        "refresh_peer": results.refresh_peer.to_json(),
        "previews_with_refresh": results.during.to_json(),
        "previews_alone": results.alone.to_json(),
        "targets": [t.to_json() for t in results.targets],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_catalog",
        description=f"The flow catalog on {CATALOG_SIZE:,} flows: options, search, refresh.",
    )
    parser.add_argument(
        "--rate", type=positive_float, default=40.0, help="options requests/s (default 40)"
    )
    parser.add_argument(
        "--duration", type=positive_float, default=10.0, help="seconds at --rate (default 10)"
    )
    parser.add_argument(
        "--latency",
        type=non_negative_float,
        default=0.08,
        help="added to each live ListFlow in a second peer run; 0 skips it (default 0.08)",
    )
    parser.add_argument(
        "--workers",
        type=positive_int,
        default=10,
        help="preview asks always in flight in measurement 4 (default 10)",
    )
    parser.add_argument(
        "--search-queries", type=positive_int, default=2_000, help="search queries (default 2000)"
    )
    parser.add_argument("--seed", type=int, default=0, help="for the queries")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or an error."""
    args = parse_args(argv)
    results = asyncio.run(run(args))
    progress(f"done in {results.wall_s:.0f}s")
    print(render(results, args))
    if args.json is not None:
        write_json(args.json, to_json(results, args))
    clean = not any(r.errors for r in results.options.runs)
    return 0 if clean and all(t.met for t in results.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
