"""Benchmark several replicas sharing one Alibaba account's budget through Redis.

Run from the project root::

    python -m bench.bench_replicas [--asks N] [--samples N] [--json PATH]

Every replica is a process of its own (`python -m bench.replica_worker`), with its own event
loop, aiohttp session and Redis connection pool, configured from the environment as
`python -m bot serve` is: REDIS_URL, CAMS_REPLICAS, CAMS_QPS and the rest. A worker builds a
PreviewService and asks for its flows straight through it; nothing of Slack is in the way,
since the budget is the service's business and Slack would only add load to two cores. This
process starts a redis-server of its own on a free loopback port (`--save "" --appendonly
no`), the emulator, and the replicas; it tells the replicas to go at the same moment, over
their stdin, once all have started.

1. The shared budget under saturation: for 1, 2 and 4 replicas (CAMS_REPLICAS the same),
   --asks distinct flows split evenly between them and asked all at once, against the
   emulator with throttling on (5 calls/s per account). The server's own counts must show at
   most 5 calls in any 1-second window, no throttled answer, and at least 4.5 calls/s. Each
   replica's max wait (and deadline) is raised so that nobody is refused as Busy. Keep
   --asks at 100 or less per replica: redis-py's pool holds at most 100 connections, and a
   replica with more Redis operations than that at once takes the refusal for a Redis
   outage, falls back to its local share, and refuses asks as Busy.
2. What a Redis round trip adds to an ask, against the emulator with throttling off and a
   budget too large for any ask to wait, --samples asks one at a time: a cache hit from
   Redis's shared cache against one from the process's own; an upstream call admitted by the
   Redis limiter against one admitted by the local limiter; and a cold ask through the whole
   service in both modes.

Before every fleet Redis is flushed and the limiter's marker key is set (see MARKER_NOTE). The
exit status is 1 when a target of part 1 is missed or any ask of part 2 failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bench.replica_worker import READY
from bench.support import (
    HOST,
    STARTUP_TIMEOUT_S,
    Asks,
    EmulatorControl,
    ServerView,
    Target,
    describe_machine,
    free_port,
    inherited_env,
    machine,
    markdown_table,
    percentile,
    positive_int,
    progress,
    python_process,
    running_emulator,
    running_process,
    seconds,
    targets_table,
    write_json,
)
from bot.cams.actions import Action
from bot.cams.client import action_budget_key
from bot.cams.credentials import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from bot.cams.settings import DEFAULT_ATTEMPT_TIMEOUT_S
from bot.preview.limiter import LimiterSettings
from bot.preview.shared.limiter import budget_key
from bot.preview.shared.link import RETRY_AFTER_S
from bot.standin.cams.server import DEMO_CREDENTIALS

RATE = 5
RATE_TARGET = 4.5
# What the limiter books RATE calls in: a second plus the default margin.
SPACING_S = LimiterSettings().period + LimiterSettings().margin
REPLICA_COUNTS = (1, 2, 4)
ACCOUNT = DEMO_CREDENTIALS.access_key_id
# The budget the replicas' previews are booked under: the account's, for GetFlowPreviewUrl.
PREVIEW_BUDGET = action_budget_key(ACCOUNT, Action.GET_FLOW_PREVIEW_URL)
# Long enough that nobody in the burst is refused as Busy: part 1 measures the sharing of the
# budget, not refusal.
BURST_MAX_WAIT_S = 120.0
# The client's overall deadline counts the wait for a slot, so it must outlast the longest
# queue, or queued asks are refused as Busy before their turn.
BURST_DEADLINE_S = BURST_MAX_WAIT_S + DEFAULT_ATTEMPT_TIMEOUT_S
# Every ask ends by its deadline; a fleet that takes much longer is stuck.
FLEET_TIMEOUT_S = BURST_DEADLINE_S + 30.0
# Part 2's budget: so large that no ask made one at a time ever waits for a slot, so the
# figures are the cost of admitting alone. (The local limiter copies its window of past
# grants on every admit, a few microseconds at this size, which if anything flatters Redis.)
UNCONTENDED_QPS = 100_000
# Unmeasured asks before part 2's measured ones, so that no connection is opened while timed.
WARMUP_ASKS = 20
BUDGET_FLOW_BASE = 400_000
LATENCY_FLOW_BASE = 500_000
MS = 1000.0
MARKER_NOTE = (
    "Before every fleet starts, Redis is flushed and the previews' limiter's marker key "
    f"(`{budget_key(PREVIEW_BUDGET, 'marker')}`) is set to 1. A Redis without it looks like "
    "one that restarted and lost its booked slots, and the limiter would then hold the "
    "account to one replica's share, floor(CAMS_QPS / CAMS_REPLICAS) calls/s, for max wait + "
    f"{SPACING_S:g} s + {RETRY_AFTER_S:g} s ({BURST_MAX_WAIT_S + SPACING_S + RETRY_AFTER_S:g} s "
    "with part 1's max wait): longer than the whole burst. "
    "Production Redis is in use long before a burst; that steady state is what is measured."
)


@dataclass(frozen=True, slots=True)
class RunningRedis:
    """The benchmark's own redis-server: where replicas find it, and a client of this process."""

    url: str
    client: Redis
    version: str


@contextlib.asynccontextmanager
async def running_redis() -> AsyncIterator[RunningRedis]:
    """Run a redis-server on a free loopback port, keeping nothing on disk, until the block ends.

    Never the machine's own Redis: this one is started here, on a port nothing listens on.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    async with running_process([*command, "--loglevel", "warning"], inherited_env()) as process:
        url = f"redis://{HOST}:{port}/0"
        client = Redis.from_url(url)
        try:
            await wait_for_ping(client, process)
            info = await client.info("server")
            yield RunningRedis(url, client, str(info["redis_version"]))
        finally:
            await client.aclose()


async def wait_for_ping(client: Redis, process: asyncio.subprocess.Process) -> None:
    """Return once Redis answers PING; raise if it exits or stays silent too long."""
    deadline = asyncio.get_running_loop().time() + STARTUP_TIMEOUT_S
    while asyncio.get_running_loop().time() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"redis-server exited with status {process.returncode}")
        # Refused until it listens.
        with contextlib.suppress(RedisConnectionError):
            if await client.ping():
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"redis-server did not answer within {STARTUP_TIMEOUT_S:g}s")


async def prepare(redis: RunningRedis) -> None:
    """Empty Redis, mark it as in use by the limiter (see MARKER_NOTE), zero its counters."""
    await redis.client.flushdb()
    await redis.client.set(budget_key(PREVIEW_BUDGET, "marker"), 1)
    await redis.client.config_resetstat()


async def connections_since_prepare(redis: RunningRedis) -> int:
    """Connections Redis accepted since `prepare`: this process's own one was open before."""
    stats = await redis.client.info("stats")
    return int(stats["total_connections_received"])


@dataclass(frozen=True, slots=True)
class ReplicaSpec:
    """How to start one replica: its label, the worker's arguments, and its environment."""

    name: str
    arguments: list[str]
    env: dict[str, str]


@dataclass(frozen=True, slots=True)
class ReplicaRun:
    """What one replica reported: when it was told to go (monotonic s), and each pass's asks."""

    name: str
    go_at: float
    passes: list[Asks]

    @property
    def asks(self) -> Asks:
        """The first (in part 1, the only) pass."""
        return self.passes[0]

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {
            "name": self.name,
            "go_at": self.go_at,
            "passes": [asks.to_json() for asks in self.passes],
        }


def replica_env(
    emulator: EmulatorControl,
    *,
    qps: int,
    replicas: int,
    redis_url: str | None,
    max_wait: float = LimiterSettings().max_wait,
    deadline: float | None = None,
) -> dict[str, str]:
    """A replica's environment: this one's less our variables, plus the benchmark's settings.

    One attempt per ask, so that a throttled answer is counted rather than retried away.
    """
    env = inherited_env() | {
        ACCESS_KEY_ID: DEMO_CREDENTIALS.access_key_id,
        ACCESS_KEY_SECRET: DEMO_CREDENTIALS.access_key_secret.reveal(),
        "CAMS_ENDPOINT": emulator.base_url,
        "CAMS_QPS": str(qps),
        "CAMS_MAX_ATTEMPTS": "1",
        "CAMS_MAX_WAIT_S": f"{max_wait:g}",
        "CAMS_REPLICAS": str(replicas),
    }
    if deadline is not None:
        env["CAMS_DEADLINE_S"] = f"{deadline:g}"
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return env


def worker_arguments(
    name: str,
    flows: tuple[int, int],
    *,
    warmup: tuple[int, int] | None = None,
    one_at_a_time: bool = False,
    passes: int = 1,
    layer: str = "service",
) -> list[str]:
    """The command line of `python -m bench.replica_worker`."""
    arguments = ["-m", "bench.replica_worker", "--name", name, "--layer", layer]
    arguments += ["--flows", str(flows[0]), str(flows[1]), "--passes", str(passes)]
    if warmup is not None:
        arguments += ["--warmup", str(warmup[0]), str(warmup[1])]
    if one_at_a_time:
        arguments.append("--one-at-a-time")
    return arguments


async def run_replicas(specs: Sequence[ReplicaSpec]) -> list[ReplicaRun]:
    """Start every replica, wait until all are ready, cue them all at once, collect reports."""
    async with contextlib.AsyncExitStack() as stack:
        processes = [
            await stack.enter_async_context(python_process(spec.arguments, spec.env, pipes=True))
            for spec in specs
        ]
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            for spec, process in zip(specs, processes, strict=True):
                assert process.stdout is not None
                line = (await process.stdout.readline()).decode().strip()
                if line != READY:
                    raise RuntimeError(f"{spec.name} did not start: {line!r}")
        # Every cue written before any is drained, so that none waits on another's pipe;
        # 'cue spread' in the report shows how close together the replicas woke.
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
        for process in processes:
            assert process.stdin is not None
            await process.stdin.drain()
            process.stdin.close()
        pairs = zip(specs, processes, strict=True)
        async with asyncio.timeout(FLEET_TIMEOUT_S):
            return await asyncio.gather(*(report(spec, process) for spec, process in pairs))


async def report(spec: ReplicaSpec, process: asyncio.subprocess.Process) -> ReplicaRun:
    """Read a cued replica's report to the end; raise if it failed."""
    assert process.stdout is not None
    output = await process.stdout.read()
    if await process.wait() != 0:
        raise RuntimeError(f"{spec.name} exited with status {process.returncode}")
    body = json.loads(output)
    return ReplicaRun(spec.name, float(body["go_at"]), [Asks.from_json(p) for p in body["passes"]])


@dataclass(frozen=True, slots=True)
class BudgetResult:
    """Part 1 for one replica count: each replica's asks and the server's counts."""

    replicas: int
    runs: list[ReplicaRun]
    server: ServerView
    redis_connections: int

    @property
    def asks(self) -> int:
        """Asks made by all replicas together."""
        return sum(run.asks.count for run in self.runs)

    @property
    def served(self) -> int:
        """Asks answered with a preview."""
        return sum(run.asks.ok for run in self.runs)

    @property
    def busy(self) -> int:
        """Asks refused as Busy."""
        return sum(run.asks.busy for run in self.runs)

    @property
    def other(self) -> int:
        """Asks that failed otherwise."""
        return sum(run.asks.other for run in self.runs)

    @property
    def waits(self) -> list[float]:
        """Every ask's wait, all replicas together."""
        return [wait for run in self.runs for wait in run.asks.waits]

    @property
    def tightest_span_s(self) -> float | None:
        """The shortest time at the server between a call and the RATE-th call after it.

        Over 1 s means never more than RATE calls in a second; what is over is the part of
        the limiter's margin that network and scheduling jitter left unused.
        """
        arrivals = self.server.arrivals
        # Each call paired with the RATE-th after it: the last RATE calls have none.
        pairs = zip(arrivals, arrivals[RATE:], strict=False)
        spans = [later - earlier for earlier, later in pairs]
        return min(spans, default=None)

    @property
    def start_spread_s(self) -> float:
        """How far apart the replicas were told to go."""
        starts = [run.go_at for run in self.runs]
        return max(starts) - min(starts)

    @property
    def all_answered_s(self) -> float:
        """From the first cue to the last answer of any replica."""
        first = min(run.go_at for run in self.runs)
        return max(run.go_at + run.asks.wall_s for run in self.runs) - first

    @property
    def targets(self) -> list[Target]:
        """The targets of this replica count."""
        server = self.server
        rate = server.calls_per_s
        return [
            Target(
                f"{self.replicas} replica(s): max calls in any 1 s at the server <= {RATE}",
                str(server.max_in_any_second),
                server.max_in_any_second <= RATE,
            ),
            Target(
                f"{self.replicas} replica(s): calls/s at the server >= {RATE_TARGET:g}",
                seconds(rate),
                rate is not None and rate >= RATE_TARGET,
            ),
            Target(
                f"{self.replicas} replica(s): throttled answers = 0",
                str(server.throttled),
                server.throttled == 0,
            ),
            Target(
                f"{self.replicas} replica(s): every ask answered with a preview, one call each",
                f"{self.served}/{self.asks}",
                self.served == self.asks == server.ok == server.received,
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        """The raw figures and the targets."""
        return {
            "replicas": self.replicas,
            "server": self.server.to_json(),
            "replica_runs": [run.to_json() for run in self.runs],
            "redis_connections": self.redis_connections,
            "tightest_span_s": self.tightest_span_s,
            "start_spread_s": self.start_spread_s,
            "all_answered_s": self.all_answered_s,
            "targets": [t.to_json() for t in self.targets],
        }


def split(total: int, parts: int) -> list[int]:
    """`total` split into `parts` counts as even as can be, the larger first."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


async def budget(
    emulator: EmulatorControl, redis: RunningRedis, replicas: int, asks: int
) -> BudgetResult:
    """Part 1 for `replicas` replicas: `asks` distinct flows split between them, all at once."""
    progress(f"part 1: {replicas} replica(s) asking {asks} distinct flows at once ...")
    env = replica_env(
        emulator,
        qps=RATE,
        replicas=replicas,
        redis_url=redis.url,
        max_wait=BURST_MAX_WAIT_S,
        deadline=BURST_DEADLINE_S,
    )
    specs = []
    first = BUDGET_FLOW_BASE
    for index, count in enumerate(split(asks, replicas)):
        name = f"replica {index + 1}/{replicas}"
        specs.append(ReplicaSpec(name, worker_arguments(name, (first, count)), env))
        first += count
    # Redis is emptied and the replicas are new processes, so every ask is a cache miss.
    await prepare(redis)
    await emulator.reset()
    runs = await run_replicas(specs)
    server = ServerView.from_stats(await emulator.stats(), ACCOUNT)
    return BudgetResult(replicas, runs, server, await connections_since_prepare(redis))


@dataclass(frozen=True, slots=True)
class Comparison:
    """One path of an ask, timed without Redis and with it."""

    path: str
    round_trips: str
    local: Asks
    shared: Asks

    @property
    def failed(self) -> int:
        """Asks on either side that were not answered with a preview."""
        return self.local.count - self.local.ok + self.shared.count - self.shared.ok

    def percentile_ms(self, asks: Asks, p: float) -> float:
        """The `p`th percentile wait of `asks` in milliseconds."""
        return percentile(asks.waits, p) * MS

    def added_ms(self, p: float) -> float:
        """Redis's `p`th percentile less the local one, in milliseconds."""
        return self.percentile_ms(self.shared, p) - self.percentile_ms(self.local, p)

    def to_json(self) -> dict[str, Any]:
        """The raw figures of both sides and the differences."""
        return {
            "path": self.path,
            "redis_round_trips": self.round_trips,
            "local": self.local.to_json(),
            "redis": self.shared.to_json(),
            "added_p50_ms": self.added_ms(50),
            "added_p99_ms": self.added_ms(99),
        }


@dataclass(frozen=True, slots=True)
class LatencyResult:
    """Part 2: each path compared, and the upstream calls made while serving Redis hits."""

    comparisons: list[Comparison]
    calls_during_hits: int

    @property
    def verified(self) -> bool:
        """Every ask answered with a preview, and the hits really came from a cache."""
        return self.calls_during_hits == 0 and all(c.failed == 0 for c in self.comparisons)

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {
            "comparisons": [c.to_json() for c in self.comparisons],
            "upstream_calls_during_hits": self.calls_during_hits,
            "verified": self.verified,
        }


async def latency(emulator: EmulatorControl, redis: RunningRedis, samples: int) -> LatencyResult:
    """Part 2: each path timed one ask at a time, in a replica of its own, local then Redis.

    Every replica asks the same flows; only the service layer caches, and the Redis-mode
    service replica that fills the shared cache runs before the one that reads it.
    """
    warmup = (LATENCY_FLOW_BASE, WARMUP_ASKS)
    flows = (LATENCY_FLOW_BASE + WARMUP_ASKS, samples)

    async def one(name: str, redis_url: str | None, layer: str, passes: int = 1) -> ReplicaRun:
        progress(f"part 2: {name}, {samples} asks one at a time ...")
        # CAMS_REPLICAS matters only during an outage or a fence, neither of which comes here.
        env = replica_env(emulator, qps=UNCONTENDED_QPS, replicas=2, redis_url=redis_url)
        arguments = worker_arguments(
            name, flows, warmup=warmup, one_at_a_time=True, passes=passes, layer=layer
        )
        return (await run_replicas([ReplicaSpec(name, arguments, env)]))[0]

    await prepare(redis)
    client_local = await one("client, local limiter", None, "client")
    client_redis = await one("client, Redis limiter", redis.url, "client")
    service_local = await one("service, local mode, cold", None, "service")
    # Its warm-up and measured asks fill the shared cache that the next replica reads.
    service_redis = await one("service, Redis mode, cold", redis.url, "service")
    await emulator.reset()
    reader = await one("service, Redis mode, another replica", redis.url, "service", passes=2)
    calls_during_hits = (await emulator.stats()).received
    redis_hits, local_hits = reader.passes
    return LatencyResult(
        [
            Comparison("cache hit", "1 (GET)", local_hits, redis_hits),
            Comparison(
                "upstream call admitted by the limiter",
                "1 (admit script)",
                client_local.asks,
                client_redis.asks,
            ),
            Comparison(
                "cold ask through the service",
                "3 (GET, admit script, SET)",
                service_local.asks,
                service_redis.asks,
            ),
        ],
        calls_during_hits,
    )


BUDGET_HEADERS = [
    "replicas",
    "asks",
    "served",
    "Busy",
    "other failures",
    "calls at server",
    "calls/s at server",
    "max calls in any 1 s",
    f"shortest span of {RATE + 1} calls s",
    "throttled answers",
    "p50 wait s",
    "p99 wait s",
    "all answered after s",
    "cue spread ms",
    "Redis connections opened",
]


def budget_row(result: BudgetResult) -> list[str]:
    """One row of BUDGET_HEADERS."""
    server = result.server
    return [
        str(result.replicas),
        f"{result.asks:,}",
        f"{result.served:,}",
        f"{result.busy:,}",
        f"{result.other:,}",
        f"{server.received:,}",
        seconds(server.calls_per_s),
        str(server.max_in_any_second),
        "n/a" if result.tightest_span_s is None else f"{result.tightest_span_s:.3f}",
        f"{server.throttled:,}",
        seconds(percentile(result.waits, 50)),
        seconds(percentile(result.waits, 99)),
        seconds(result.all_answered_s),
        f"{result.start_spread_s * MS:.2f}",
        f"{result.redis_connections:,}",
    ]


def replica_rows(result: BudgetResult) -> list[list[str]]:
    """Each replica of one replica count: its asks, and how long they waited."""
    return [
        [
            str(result.replicas),
            run.name,
            f"{run.asks.count:,}",
            f"{run.asks.ok:,}",
            f"{run.asks.busy:,}",
            seconds(percentile(run.asks.waits, 50)),
            seconds(percentile(run.asks.waits, 99)),
            seconds(max(run.asks.waits)),
        ]
        for run in result.runs
    ]


def comparison_row(comparison: Comparison) -> list[str]:
    """One row of the part 2 table."""
    c = comparison
    return [
        c.path,
        c.round_trips,
        f"{c.local.count:,} / {c.shared.count:,}",
        *(f"{c.percentile_ms(asks, p):.3f}" for asks in (c.local, c.shared) for p in (50, 99)),
        f"{c.added_ms(50):+.3f}",
        f"{c.added_ms(99):+.3f}",
    ]


def render(budgets: Sequence[BudgetResult], lat: LatencyResult, redis_version: str) -> str:
    """The report: setup, part 1's tables and targets, part 2's table."""
    lines = [
        "# Replicas sharing one account's budget through Redis",
        "",
        describe_machine("redis") + f"; redis-server {redis_version}",
        "Every replica is a process of its own (bench.replica_worker: a PreviewService "
        "configured from the environment as `python -m bot serve` is, asking straight through "
        "it), all cued at once over stdin once every one has started. Redis is this "
        "benchmark's own redis-server on a free loopback port, nothing kept on disk; the "
        "emulator is another process. Call figures are the emulator's; waits are from ask to "
        "answer inside each replica.",
        "",
        MARKER_NOTE,
        "",
        f"## 1. The shared budget, saturated ({RATE} calls/s per account, throttling on)",
        "",
        "Distinct flows split evenly between the replicas, each replica asking all of its own "
        f"at once; CAMS_REPLICAS = the number of replicas, CAMS_QPS={RATE}, one attempt per ask, "
        f"CAMS_MAX_WAIT_S={BURST_MAX_WAIT_S:g} and CAMS_DEADLINE_S={BURST_DEADLINE_S:g} so that "
        "nobody is refused as Busy. calls/s = (calls - 1) / (last arrival - first arrival); "
        f"the limiter books {RATE} calls per {SPACING_S:g} s (1 s plus its margin), so the "
        f"long-run rate is {RATE / SPACING_S:.2f}/s and the formula gives more, the calls "
        f"coming in clumps of {RATE}, one clump at each end. 'shortest span' is the least "
        f"time between a call and the {RATE}th after it at the server (over 1 s: at most "
        f"{RATE} in any second). 'cue spread' is how far apart the replicas were told to go; "
        "'Redis connections' counts those the replicas opened.",
        "",
        markdown_table(
            BUDGET_HEADERS,
            [budget_row(b) for b in budgets],
            align="r" * len(BUDGET_HEADERS),
        ),
        "",
        "Per replica (slots are booked first come, first served, in order of arrival at Redis):",
        "",
        markdown_table(
            ["replicas", "replica", "asks", "served", "Busy", "p50 wait s", "p99 wait s", "max s"],
            [row for b in budgets for row in replica_rows(b)],
            align="rlrrrrrr",
        ),
        "",
        targets_table([t for b in budgets for t in b.targets]),
        "",
        "## 2. What a Redis round trip adds to an ask (emulator throttling off)",
        "",
        "Each side is one replica asking one flow at a time after "
        f"{WARMUP_ASKS} unmeasured asks; CAMS_QPS={UNCONTENDED_QPS:,} so that no ask ever "
        "waits for a slot. 'local' is the same path without Redis. Cache hit: a replica "
        "asking flows another replica fetched (a miss in its own cache, a hit in Redis's), "
        "then the same flows again (hits in its own cache). Upstream call: the service's "
        "CamsClient alone, no cache, behind the local or the Redis limiter. Cold ask: "
        "PreviewService.get of a flow nobody has fetched. 'added' is the difference of the "
        "percentiles, not a percentile of differences.",
        "",
        markdown_table(
            [
                "path",
                "Redis round trips",
                "samples local / Redis",
                "local p50 ms",
                "local p99 ms",
                "Redis p50 ms",
                "Redis p99 ms",
                "added p50 ms",
                "added p99 ms",
            ],
            [comparison_row(c) for c in lat.comparisons],
            align="llrrrrrrr",
        ),
        "",
        f"While the second replica read from the caches, the emulator received "
        f"{lat.calls_during_hits} calls (must be 0: every hit came from a cache).",
    ]
    for b in budgets:
        for run in b.runs:
            if run.asks.other:
                lines.append(
                    f"FAILED {run.name}: {run.asks.other} asks; first: {run.asks.first_error}"
                )
    for c in lat.comparisons:
        for side, asks in (("local", c.local), ("Redis", c.shared)):
            if asks.ok != asks.count:
                lines.append(
                    f"FAILED part 2 {c.path}, {side}: {asks.count - asks.ok} of {asks.count} "
                    f"asks; first: {asks.first_error}"
                )
    lines.append(
        f"Part 2: {'verified' if lat.verified else 'FAILED'} (every ask answered with a "
        "preview, no upstream call while serving hits)."
    )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_replicas",
        description="Replicas sharing one account's budget and cache through Redis.",
    )
    parser.add_argument(
        "--asks",
        type=positive_int,
        default=100,
        help="distinct flows per replica count in part 1, split between the replicas "
        "(default 100: about 21 s at 5 calls/s; over 100 per replica exceeds redis-py's pool)",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=1000,
        help="asks timed on each side of each comparison in part 2 (default 1000)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    args = parser.parse_args(argv)
    if args.asks < max(REPLICA_COUNTS):
        parser.error(f"--asks must be at least {max(REPLICA_COUNTS)}, one per replica")
    return args


async def run(args: argparse.Namespace) -> tuple[list[BudgetResult], LatencyResult, str]:
    """Both parts on one Redis, each against an emulator of its own."""
    async with running_redis() as redis:
        async with running_emulator(qps=RATE) as emulator:
            budgets = [await budget(emulator, redis, n, args.asks) for n in REPLICA_COUNTS]
        async with running_emulator(qps=0) as emulator:
            lat = await latency(emulator, redis, args.samples)
    return budgets, lat, redis.version


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or a failed ask."""
    args = parse_args(argv)
    started = time.perf_counter()
    budgets, lat, redis_version = asyncio.run(run(args))
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print(render(budgets, lat, redis_version))
    if args.json is not None:
        write_json(
            args.json,
            {
                **machine("redis"),
                "redis_server": redis_version,
                "settings": vars(args) | {"json": str(args.json)},
                "rate": RATE,
                "rate_target": RATE_TARGET,
                "burst_max_wait_s": BURST_MAX_WAIT_S,
                "burst_deadline_s": BURST_DEADLINE_S,
                "uncontended_qps": UNCONTENDED_QPS,
                "budget": [b.to_json() for b in budgets],
                "latency": lat.to_json(),
            },
        )
    met = all(t.met for b in budgets for t in b.targets)
    return 0 if met and lat.verified else 1


if __name__ == "__main__":
    sys.exit(main())
