"""Replicas (bench.workers replica processes) sharing one account's budget through Redis.

1. 1, 2 and 4 replicas asking --asks distinct flows at once against the emulator throttling
at 5/s (at most 100 per replica: redis-py's pool). Targets: <= 5 calls in any second, >= 4.5
calls/s, no throttled answer. 2. What a Redis round trip adds to an ask, local against Redis.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis

from bench.common import (
    MS,
    RATE,
    Asks,
    Target,
    budget_targets,
    finish,
    fixed,
    markdown_table,
    measured,
    parser,
    percentile,
    positive_int,
    progress,
    python_process,
    quantiles,
    targets_table,
)
from bench.workers import READY
from bot.cams.actions import Action
from bot.cams.client import action_budget_key
from bot.cams.credentials import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from bot.cams.settings import DEFAULT_ATTEMPT_TIMEOUT_S
from bot.preview.limiter import LimiterSettings
from bot.preview.redis.circuit_breaker import RETRY_AFTER_S
from bot.preview.redis.limiter import budget_key
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.processes import (
    STARTUP_S,
    EmulatorControl,
    ServerView,
    clean_env,
    controlled_emulator,
)
from bot.standin.harness.redis_server import running_redis

# What the limiter books RATE calls in: a second plus the default margin.
SPACING_S = LimiterSettings().period + LimiterSettings().margin
REPLICA_COUNTS = (1, 2, 4)
ACCOUNT = DEMO_CREDENTIALS.access_key_id
# The budget the replicas' previews are booked under: the account's, for GetFlowPreviewUrl.
MARKER = budget_key(action_budget_key(ACCOUNT, Action.GET_FLOW_PREVIEW_URL), "marker")
# Nobody in the burst is refused as Busy (part 1 measures sharing); the deadline outlasts it.
BURST_MAX_WAIT_S = 120.0
BURST_DEADLINE_S = BURST_MAX_WAIT_S + DEFAULT_ATTEMPT_TIMEOUT_S
# Every ask ends by its deadline; a fleet that takes much longer is stuck.
FLEET_TIMEOUT_S = BURST_DEADLINE_S + 30.0
# Part 2's budget: so large that no ask made one at a time ever waits for a slot.
UNCONTENDED_QPS = 100_000
# Unmeasured asks before part 2's measured ones, so that no connection is opened while timed.
WARMUP_ASKS = 20
BUDGET_FLOW_BASE = 400_000
LATENCY_FLOW_BASE = 500_000
MARKER_NOTE = (
    f"Before every fleet Redis is flushed and the limiter's marker key (`{MARKER}`) set, as "
    "in a Redis long in use: without it the limiter would take Redis for restarted and hold "
    "each replica to its own share for max wait + "
    f"{SPACING_S + RETRY_AFTER_S:g} s, longer than the whole burst."
)


@dataclass(frozen=True, slots=True)
class ReplicaRun:
    """What one replica reported: when it was told to go (monotonic s), and each pass's asks."""

    name: str
    go_at: float
    passes: list[Asks]


def replica_env(emulator: EmulatorControl, qps: int, replicas: int, **extra: str) -> dict[str, str]:
    """A replica's environment; one attempt per ask, so that throttling is counted."""
    return clean_env(
        CAMS_ENDPOINT=emulator.url,
        CAMS_QPS=str(qps),
        CAMS_MAX_ATTEMPTS="1",
        CAMS_REPLICAS=str(replicas),
        **{
            ACCESS_KEY_ID: DEMO_CREDENTIALS.access_key_id,
            ACCESS_KEY_SECRET: DEMO_CREDENTIALS.access_key_secret.reveal(),
        },
        **extra,
    )


async def run_replicas(specs: Sequence[tuple[str, list[str], dict[str, str]]]) -> list[ReplicaRun]:
    """Start the replicas (name, arguments, env); once all are ready, cue them all at once."""
    async with contextlib.AsyncExitStack() as stack:
        processes = [
            await stack.enter_async_context(
                python_process(
                    ["-m", "bench.workers", "replica", "--name", name, *arguments], env, pipes=True
                )
            )
            for name, arguments, env in specs
        ]
        async with asyncio.timeout(STARTUP_S):
            for (name, _, _), process in zip(specs, processes, strict=True):
                assert process.stdout is not None
                line = (await process.stdout.readline()).decode().strip()
                if line != READY:
                    raise RuntimeError(f"{name} did not start: {line!r}")
        # Every cue written before any is drained, so that none waits on another's pipe.
        for process in processes:
            assert process.stdin is not None
            process.stdin.write(b"go\n")
        for process in processes:
            assert process.stdin is not None
            await process.stdin.drain()
            process.stdin.close()

        async def report(name: str, process: asyncio.subprocess.Process) -> ReplicaRun:
            assert process.stdout is not None
            output = await process.stdout.read()
            if await process.wait() != 0:
                raise RuntimeError(f"{name} exited with status {process.returncode}")
            body = json.loads(output)
            fields = [field.name for field in dataclasses.fields(Asks)]
            passes = [Asks(**{field: p[field] for field in fields}) for p in body["passes"]]
            return ReplicaRun(name, body["go_at"], passes)

        async with asyncio.timeout(FLEET_TIMEOUT_S):
            names = [name for name, _, _ in specs]
            return await asyncio.gather(*map(report, names, processes))


async def prepare(redis: Redis) -> None:
    """Empty Redis, mark it as in use by the limiter (see MARKER_NOTE), zero its counters."""
    await redis.flushdb()
    await redis.set(MARKER, 1)
    await redis.config_resetstat()


@dataclass(frozen=True, slots=True)
class Budget:
    """Part 1 for one replica count: each replica's asks and the server's counts."""

    replicas: int
    runs: list[ReplicaRun]
    server: ServerView
    redis_connections: int

    def total(self, count: str) -> int:
        """One of Asks' counts over all replicas."""
        return sum(int(getattr(run.passes[0], count)) for run in self.runs)

    @property
    def tightest_span_s(self) -> float | None:
        """The least time between a call and the RATE-th after it (over 1 s: <= RATE a second)."""
        arrivals = self.server.arrivals
        return min((b - a for a, b in zip(arrivals, arrivals[RATE:], strict=False)), default=None)

    @property
    def start_spread_s(self) -> float:
        """How far apart the replicas were told to go."""
        starts = [run.go_at for run in self.runs]
        return max(starts) - min(starts)

    @property
    def all_answered_s(self) -> float:
        """From the first cue to the last answer of any replica."""
        first = min(run.go_at for run in self.runs)
        return max(run.go_at + run.passes[0].wall_s for run in self.runs) - first

    @property
    def targets(self) -> list[Target]:
        """The targets of this replica count."""
        server, label = self.server, f"{self.replicas} replica(s): "
        served, asked = self.total("ok"), self.total("count")
        return [
            *budget_targets(label, server.max_in_any_second, server.calls_per_s, server.throttled),
            Target(
                f"{label}every ask answered with a preview, one call each",
                f"{served}/{asked}",
                served == asked == server.ok == server.received,
            ),
        ]


async def budget(
    emulator: EmulatorControl, redis: Redis, url: str, replicas: int, asks: int
) -> Budget:
    """Part 1 for `replicas` replicas: `asks` distinct flows split between them, all at once."""
    progress(f"part 1: {replicas} replica(s) asking {asks} distinct flows at once ...")
    limits = {
        "CAMS_MAX_WAIT_S": f"{BURST_MAX_WAIT_S:g}",
        "CAMS_DEADLINE_S": f"{BURST_DEADLINE_S:g}",
    }
    env = replica_env(emulator, RATE, replicas, REDIS_URL=url, **limits)
    specs, first = [], BUDGET_FLOW_BASE
    for index in range(replicas):
        # As even as can be, the larger shares first.
        count = asks // replicas + (index < asks % replicas)
        specs.append((f"replica {index + 1}/{replicas}", ["--flows", str(first), str(count)], env))
        first += count
    # Redis is emptied and the replicas are new processes, so every ask is a cache miss.
    await prepare(redis)
    await emulator.reset()
    runs = await run_replicas(specs)
    server = ServerView.from_stats(await emulator.stats(), ACCOUNT)
    connections = int((await redis.info("stats"))["total_connections_received"])
    return Budget(replicas, runs, server, connections)


@dataclass(frozen=True, slots=True)
class Comparison:
    """One path of an ask, timed without Redis and with it."""

    path: str
    round_trips: str
    local: Asks
    shared: Asks

    def sides(self) -> list[tuple[str, Asks]]:
        """Both sides, named."""
        return [("local", self.local), ("Redis", self.shared)]

    def added_ms(self, p: float) -> float:
        """Redis's `p`th percentile wait less the local one, in milliseconds."""
        return (percentile(self.shared.waits, p) - percentile(self.local.waits, p)) * MS

    def row(self) -> list[str]:
        """Its row in part 2's table."""
        waits = [percentile(a.waits, p) * MS for a in (self.local, self.shared) for p in (50, 99)]
        counts = f"{self.local.count:,} / {self.shared.count:,}"
        added = [f"{self.added_ms(p):+.3f}" for p in (50, 99)]
        return [self.path, self.round_trips, counts, *(f"{w:.3f}" for w in waits), *added]


async def latency(
    emulator: EmulatorControl, redis: Redis, url: str, samples: int
) -> tuple[list[Comparison], int]:
    """Part 2: each path, one ask at a time, local then Redis; and upstream calls on hits."""
    warmup = ["--warmup", str(LATENCY_FLOW_BASE), str(WARMUP_ASKS)]
    flows = ["--flows", str(LATENCY_FLOW_BASE + WARMUP_ASKS), str(samples)]

    async def one(name: str, redis_url: str | None, layer: str, passes: int = 1) -> list[Asks]:
        progress(f"part 2: {name}, {samples} asks one at a time ...")
        # CAMS_REPLICAS matters only during an outage or a fence, neither of which comes here.
        shared = {} if redis_url is None else {"REDIS_URL": redis_url}
        env = replica_env(emulator, UNCONTENDED_QPS, 2, **shared)
        arguments = [*flows, *warmup, "--one-at-a-time", "--passes", str(passes), "--layer", layer]
        return (await run_replicas([(name, arguments, env)]))[0].passes

    await prepare(redis)
    [client_local] = await one("client, local limiter", None, "client")
    [client_redis] = await one("client, Redis limiter", url, "client")
    [service_local] = await one("service, local mode, cold", None, "service")
    # Its warm-up and measured asks fill the shared cache that the next replica reads.
    [service_redis] = await one("service, Redis mode, cold", url, "service")
    await emulator.reset()
    redis_hits, local_hits = await one("service, Redis mode, another replica", url, "service", 2)
    limiter, cold = "upstream call admitted by the limiter", "cold ask through the service"
    comparisons = [
        Comparison("cache hit", "1 (GET)", local_hits, redis_hits),
        Comparison(limiter, "1 (admit script)", client_local, client_redis),
        Comparison(cold, "3 (GET, admit script, SET)", service_local, service_redis),
    ]
    return comparisons, (await emulator.stats()).received


def budget_row(b: Budget) -> str:
    """One row of part 1's table."""
    server, span = b.server, b.tightest_span_s
    waits = [wait for run in b.runs for wait in run.passes[0].waits]
    asks = " | ".join(f"{b.total(count):,}" for count in ("count", "ok", "busy", "other"))
    return (
        f"{b.replicas} | {asks} | {server.received:,} | {fixed(server.calls_per_s)} | "
        f"{server.max_in_any_second} | {'n/a' if span is None else f'{span:.3f}'} | "
        f"{server.throttled:,} | {quantiles(waits, 50, 99)} | {fixed(b.all_answered_s)} | "
        f"{b.start_spread_s * MS:.2f} | {b.redis_connections:,}"
    )


def render(
    budgets: Sequence[Budget],
    comparisons: Sequence[Comparison],
    calls_during_hits: int,
    redis_version: str,
) -> str:
    """The report: setup, part 1's tables and targets, part 2's table."""
    per_replica = [
        f"{b.replicas} | {run.name} | {asks.count:,} | {asks.ok:,} | {asks.busy:,} | "
        + quantiles(asks.waits, 50, 99, 100)
        for b in budgets
        for run in b.runs
        for asks in run.passes[:1]
    ]
    lines = [
        f"redis-server {redis_version}",
        MARKER_NOTE,
        f"## 1. The shared budget, saturated ({RATE} calls/s per account, throttling on)",
        f"CAMS_QPS={RATE}, CAMS_MAX_WAIT_S={BURST_MAX_WAIT_S:g}, one attempt per ask. The "
        f"limiter books {RATE} calls per {SPACING_S:g} s, {RATE / SPACING_S:.2f}/s in the long "
        f"run; 'shortest span' is the least time between a call and the {RATE}th after it.",
        markdown_table(
            f"replicas | asks | served | Busy | other failures | calls at server | calls/s at "
            f"server | max calls in any 1 s | shortest span of {RATE + 1} calls s | throttled "
            "answers | p50 wait s | p99 wait s | all answered after s | cue spread ms | Redis "
            "connections opened",
            [budget_row(b) for b in budgets],
            "r" * 15,
        ),
        markdown_table(
            "replicas | replica | asks | served | Busy | p50 wait s | p99 wait s | max s",
            per_replica,
            "rlrrrrrr",
        ),
        targets_table([t for b in budgets for t in b.targets]),
        "## 2. What a Redis round trip adds to an ask (emulator throttling off)",
        f"One replica asking one flow at a time after {WARMUP_ASKS} unmeasured asks, "
        f"CAMS_QPS={UNCONTENDED_QPS:,}; 'added' is the difference of the percentiles.",
        markdown_table(
            "path | Redis round trips | samples local / Redis | local p50 ms | local p99 ms | "
            "Redis p50 ms | Redis p99 ms | added p50 ms | added p99 ms",
            [c.row() for c in comparisons],
            "llrrrrrrr",
        ),
        f"While the second replica read from the caches, the emulator received "
        f"{calls_during_hits} calls (must be 0: every hit came from a cache).",
    ]
    # Part 1 counts Busy apart; in part 2 any ask not answered with a preview failed.
    failed = [(run.name, a, a.other) for b in budgets for run in b.runs for a in run.passes[:1]]
    for c in comparisons:
        failed += [(f"part 2 {c.path}, {side}", a, a.count - a.ok) for side, a in c.sides()]
    lines += [
        f"FAILED {name}: {count} of {asks.count} asks; first: {asks.first_error}"
        for name, asks, count in failed
        if count
    ]
    return "\n\n".join(lines)


async def run(args: argparse.Namespace) -> tuple[list[Budget], list[Comparison], int, str]:
    """Both parts on one Redis, each against an emulator of its own."""
    async with running_redis() as server:
        redis = Redis.from_url(server.url)
        try:
            version = str((await redis.info("server"))["redis_version"])
            async with controlled_emulator("--qps", str(RATE)) as emulator:
                budgets = [
                    await budget(emulator, redis, server.url, n, args.asks) for n in REPLICA_COUNTS
                ]
            async with controlled_emulator("--qps", "0") as emulator:
                comparisons, calls = await latency(emulator, redis, server.url, args.samples)
        finally:
            await redis.aclose()
    return budgets, comparisons, calls, version


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or a failed ask."""
    cli = parser(__doc__, "bench.bench_replicas")
    cli.add_argument("--asks", type=positive_int, default=100, help="flows per replica count")
    cli.add_argument("--samples", type=positive_int, default=1000, help="asks per side, part 2")
    args = cli.parse_args()
    if args.asks < max(REPLICA_COUNTS):
        cli.error(f"--asks must be at least {max(REPLICA_COUNTS)}, one per replica")
    budgets, comparisons, calls, version = measured(run(args))
    verified = calls == 0 and all(a.ok == a.count for c in comparisons for a in (c.local, c.shared))
    ok = verified and all(t.met for b in budgets for t in b.targets)
    report = render(budgets, comparisons, calls, version)
    figures = {"budget": budgets, "latency": comparisons, "upstream_calls_during_hits": calls}
    return finish(args, __doc__, report, figures, ok, "redis")


if __name__ == "__main__":
    sys.exit(main())
