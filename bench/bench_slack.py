"""Signed /flowpreview commands on cache hits: `python -m bot serve` beside bare Bolt's ceiling.

Both are processes of their own (bench/bare_bolt.py); every answer is checked. 1. Ack latency at
a fixed rate, open loop. 2. Sustained throughput, closed loop, each worker count --rounds times
with the servers taking turns; each server's best counts. Targets: flowpreview's best >= 70% of
bare Bolt's, its p99 ack <= 20 ms at the fixed rate.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.common import (
    BOT_TOKEN,
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
    open_loop,
    parser,
    percentile,
    positive_float,
    positive_int,
    progress,
    quantiles,
    running_server,
    server_env,
    share,
    targets_table,
)
from bot.cams.client import CamsClient
from bot.cams.settings import CamsSettings
from bot.config import Endpoint
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.processes import EmulatorControl, controlled_emulator, free_port
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers

FLOWPREVIEW = "flowpreview"
BARE = "bare Bolt"
DISTRIBUTIONS = ("slack-bolt", "slack-sdk")
THROUGHPUT_TARGET = 0.70
P99_TARGET_S = 0.020
# Sixteen digits, like the flow IDs Meta hands out.
FLOW_ID_BASE = 7_100_000_000_000_000
# Unmeasured load before every measured one, so that neither server is timed while cold.
WARM_S = 0.5
WARM_WORKERS = 4
# The idle server and emulator use about 1% of a core; more than this is someone else's load.
OTHERS_WARNING = 0.10
RUN_HEADERS = (
    "requests | errors | answered/s | p50 ms | p99 ms | max ms | server CPU ms/req | "
    "server core busy | load generator core busy | other processes' cores busy"
)


Results = list[tuple[float, str | None]]


@dataclass(frozen=True, slots=True)
class Run:
    """One load on one server: a latency per request, the errors, and the CPU it cost."""

    server: str
    load: str
    latencies: list[float]
    errors: list[str]
    cpu: CpuUse

    @property
    def per_s(self) -> float:
        """Commands answered rightly per second of wall clock."""
        return (len(self.latencies) - len(self.errors)) / self.cpu.wall_s

    def latency_ms(self, p: float) -> float:
        """The `p`th percentile latency in milliseconds (failures included, as they waited)."""
        return percentile(self.latencies, p) * MS

    def cells(self) -> str:
        """Its cells under RUN_HEADERS."""
        cpu, server_s = self.cpu, self.cpu.watched_s[0]
        per_request = None if server_s is None else server_s * MS / len(self.latencies)
        busy = None if server_s is None else server_s / cpu.wall_s
        latencies = quantiles(self.latencies, 50, 99, 100, scale=MS)
        return (
            f"{len(self.latencies):,} | {len(self.errors):,} | {self.per_s:,.0f} | {latencies} | "
            f"{fixed(per_request)} | {share(busy)} | "
            f"{share(cpu.this_s / cpu.wall_s)} | {share(cpu.others_busy)}"
        )


@dataclass
class Commander:
    """Sends signed /flowpreview commands, cycling through the flows, and judges the answers."""

    session: aiohttp.ClientSession
    fake: FakeSlack
    flow_ids: Sequence[str]
    sent: int = 0

    async def send(self, server: Server) -> str | None:
        """One command; None when rightly answered, else what was wrong."""
        flow_id = self.flow_ids[self.sent % len(self.flow_ids)]
        self.sent += 1
        # Slack builds and signs every command anew, with a new response_url and trigger_id.
        body = payloads.slash_command(flow_id, response_url=self.fake.new_response_url())
        headers = signed_headers(SIGNING_SECRET, body)
        try:
            async with self.session.post(server.events_url, data=body, headers=headers) as answer:
                content = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if answer.status != 200:
            return f"HTTP {answer.status}: {content[:200]!r}"
        expected = server.expected.get(flow_id)
        if expected is not None and expected not in content:
            return f"answer without the preview URL of {flow_id}: {content[:200]!r}"
        return None

    def at_rate(self, server: Server, rate: float, duration: float) -> Awaitable[Results]:
        """`rate` commands a second for `duration` s at fixed times, whatever the answers do."""
        return open_loop(round(rate * duration), rate, lambda _: self.send(server))


async def closed_loop(commander: Commander, server: Server, workers: int, s: float) -> Results:
    """`workers` workers for `s` seconds, each sending once its last command is answered."""
    loop = asyncio.get_running_loop()
    end = loop.time() + s
    results: Results = []

    async def worker() -> None:
        while loop.time() < end:
            sent = loop.time()
            error = await commander.send(server)
            results.append((loop.time() - sent, error))

    async with asyncio.TaskGroup() as group:
        for _ in range(workers):
            group.create_task(worker())
    return results


async def measure(commander: Commander, server: Server, name: str, load: Awaitable[Results]) -> Run:
    """Run `load` (not yet started) after a short unmeasured warm-up; time it and its CPU."""
    progress(f"{server.name}: {name} ...")
    await closed_loop(commander, server, WARM_WORKERS, WARM_S)
    meter = CpuMeter(server.pid)
    results = await load
    latencies = [latency for latency, _ in results]
    errors = [error for _, error in results if error is not None]
    return Run(server.name, name, latencies, errors, meter.stop())


@dataclass(frozen=True, slots=True)
class Measured:
    """Everything measured in one run, and the checks that the answers came from the cache."""

    latency: dict[str, Run]
    levels: list[dict[str, Run]]
    upstream_calls: int
    followups: int
    wall_s: float

    def best(self, server: str) -> Run | None:
        """The closed-loop run of `server` with the most commands/s and no errors."""
        clean = [level[server] for level in self.levels if not level[server].errors]
        return max(clean, key=lambda run: run.per_s, default=None)

    def runs(self) -> list[Run]:
        """Every measured run."""
        return [*self.latency.values(), *(run for level in self.levels for run in level.values())]

    @property
    def throughput_ratio(self) -> float | None:
        """flowpreview's best throughput over bare Bolt's; None if either has no clean run."""
        ours, bare = self.best(FLOWPREVIEW), self.best(BARE)
        return None if ours is None or bare is None else ours.per_s / bare.per_s

    @property
    def throughput_met(self) -> bool:
        """Whether flowpreview reached THROUGHPUT_TARGET of the ceiling."""
        ratio = self.throughput_ratio
        return ratio is not None and ratio >= THROUGHPUT_TARGET

    @property
    def latency_met(self) -> bool:
        """Whether flowpreview's p99 at the fixed load was within target, without errors."""
        run = self.latency[FLOWPREVIEW]
        return not run.errors and run.latency_ms(99) <= P99_TARGET_S * MS

    @property
    def verified(self) -> bool:
        """No wrong answer, no upstream call and no follow-up while measuring."""
        wrong = any(run.errors for run in self.runs())
        return not wrong and self.upstream_calls == 0 and self.followups == 0


async def run(args: argparse.Namespace) -> Measured:
    """Start the emulator, the fake Slack and both servers; warm up; measure both in turn."""
    flow_ids = [str(FLOW_ID_BASE + index) for index in range(args.flows)]
    # No pool limit: with aiohttp's default of 100, workers beyond it starved and timed out.
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        controlled_emulator("--qps", "0") as emulator,
        running_fake_slack(bot_token=BOT_TOKEN) as fake,
        aiohttp.ClientSession(timeout=SLACK_TIMEOUT, connector=connector) as session,
    ):
        # The bot must show the link the emulator issues, the same until it expires.
        async with CamsClient(DEMO_CREDENTIALS, CamsSettings(Endpoint.parse(emulator.url))) as cams:
            issued = [await cams.get_flow_preview_url(flow_id) for flow_id in flow_ids]
        expected = {f: p.preview_url.encode() for f, p in zip(flow_ids, issued, strict=True)}
        with tempfile.TemporaryDirectory(prefix="bench-slack-") as home:
            # Its audit trail and rules in a SQLite file of the run's own, or the database given.
            database = (
                {"DATABASE_URL": args.database_url}
                if args.database_url
                else {"DATABASE_PATH": str(Path(home) / "flowpreview.sqlite3")}
            )
            ours_env = server_env(fake, emulator, **database)
            if args.ops:
                # As operators run it: metrics served and every log line a JSON object.
                ours_env |= {"METRICS_PORT": str(free_port()), "LOG_FORMAT": "json"}
            bare_env = server_env(fake, emulator)
            progress("starting both servers ...")
            serve = ["-m", "bot", "serve", "--host", HOST]
            bare_command = ["-m", "bench.bare_bolt", "--port", bare_env["PORT"]]
            async with (
                running_server(FLOWPREVIEW, serve, ours_env, session, expected) as ours,
                running_server(BARE, bare_command, bare_env, session) as bare,
            ):
                commander = Commander(session, fake, flow_ids)
                return await measure_both(args, emulator, commander, ours, bare)


async def measure_both(
    args: argparse.Namespace,
    emulator: EmulatorControl,
    commander: Commander,
    ours: Server,
    bare: Server,
) -> Measured:
    """The first commands (auth.test, and every flow into the cache), then both loads."""
    fake = commander.fake
    for server in (ours, bare):
        for _ in range(args.flows):
            if error := await commander.send(server):
                raise RuntimeError(f"{server.name}'s first commands failed: {error}")
    # From here on every flowpreview answer must come from its cache.
    await emulator.reset()
    followups_before = len(fake.deliveries)
    started = time.perf_counter()
    latency: dict[str, Run] = {}
    for server in (ours, bare):
        load = commander.at_rate(server, args.rate, args.duration)
        latency[server.name] = await measure(commander, server, "open loop", load)
    levels: list[dict[str, Run]] = []
    for round_index in range(args.rounds):
        # Each round in the other order, so that neither server always follows the other.
        order = (ours, bare) if round_index % 2 == 0 else (bare, ours)
        for workers in args.workers:
            level: dict[str, Run] = {}
            for server in order:
                load = closed_loop(commander, server, workers, args.level_duration)
                level[server.name] = await measure(commander, server, f"{workers} workers", load)
            levels.append({name: level[name] for name in (FLOWPREVIEW, BARE)})
    wall_s = time.perf_counter() - started
    upstream = (await emulator.stats()).received
    return Measured(latency, levels, upstream, len(fake.deliveries) - followups_before, wall_s)


def targets(results: Measured, rate: float) -> list[Target]:
    """flowpreview's two targets, bare Bolt's figures beside its own."""

    def best(server: str) -> str:
        run = results.best(server)
        if run is None:
            return "no run without errors"
        return f"{run.per_s:,.0f}/s ({run.load}, p99 {fixed(run.latency_ms(99))} ms)"

    def p99(server: str) -> str:
        run = results.latency[server]
        return f"{fixed(run.latency_ms(99))} ms ({len(run.errors)} errors)"

    ratio = "n/a" if results.throughput_ratio is None else f"{results.throughput_ratio:.0%}"
    return [
        Target(
            f"max sustained throughput >= {THROUGHPUT_TARGET:.0%} of bare Bolt's",
            f"{ratio}: {best(FLOWPREVIEW)} against {best(BARE)}",
            results.throughput_met,
        ),
        Target(
            f"p99 ack latency at {rate:g} req/s <= {P99_TARGET_S * MS:g} ms",
            f"{p99(FLOWPREVIEW)}; bare Bolt {p99(BARE)}",
            results.latency_met,
        ),
    ]


def render(results: Measured, args: argparse.Namespace) -> str:
    """The report: machine and setup, the fixed-load table, the closed-loop table, targets."""
    workers = ", ".join(str(n) for n in args.workers)
    mode = "METRICS_PORT set and LOG_FORMAT=json" if args.ops else "no metrics port, text logs"
    lines = [
        f"Every command a cache hit over {args.flows} warmed flows; flowpreview with {mode}. "
        "Server CPU from /proc; 'core busy' is CPU time over wall time.",
        f"## 1. Ack latency at {args.rate:g} req/s offered for {args.duration:g} s (open loop)",
        markdown_table(
            f"server | {RUN_HEADERS}",
            [f"{name} | {run.cells()}" for name, run in results.latency.items()],
        ),
        f"## 2. Sustained throughput, closed loop ({workers} workers, "
        f"{args.level_duration:g} s each, {args.rounds} round(s); each server's best counts)",
        markdown_table(
            f"round | workers | server | {RUN_HEADERS}",
            [
                f"{index // len(args.workers) + 1} | {run.load.split()[0]} | {name} | {run.cells()}"
                for index, level in enumerate(results.levels)
                for name, run in level.items()
            ],
            "rrl" + "r" * len(RUN_HEADERS.split(" | ")),
        ),
        "## Targets",
        targets_table(targets(results, args.rate)),
        f"While measuring, the emulator received {results.upstream_calls} calls and the fake "
        f"Slack {results.followups} response_url posts (both must be 0: every answer from the "
        f"cache, in the ack). Measured for {results.wall_s:.0f} s.",
    ]
    runs = results.runs()
    disturbed = [run for run in runs if (run.cpu.others_busy or 0.0) > OTHERS_WARNING]
    if disturbed:
        worst = max(disturbed, key=lambda run: run.cpu.others_busy or 0.0)
        lines.append(
            f"WARNING: other processes used over {OTHERS_WARNING:.0%} of a core in "
            f"{len(disturbed)} of {len(runs)} runs (most: {share(worst.cpu.others_busy)} in "
            f"{worst.server} {worst.load}); run again on a quiet machine."
        )
    lines += [
        f"ERRORS {run.server} {run.load}: {len(run.errors)} of {len(run.latencies)}; first: "
        f"{run.errors[0]}"
        for run in runs
        if run.errors
    ]
    return "\n\n".join(lines)


def worker_counts(text: str) -> list[int]:
    """argparse type: comma-separated worker counts, each at least 1."""
    return sorted({positive_int(part) for part in text.split(",")})


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or a wrong answer."""
    cli = parser(__doc__, "bench.bench_slack")
    cli.add_argument("--rate", type=positive_float, default=100.0, help="offered commands/s")
    cli.add_argument("--duration", type=positive_float, default=10.0, help="seconds at --rate")
    cli.add_argument("--workers", type=worker_counts, default=[1, 16, 64, 128], help="N,N,...")
    cli.add_argument("--level-duration", type=positive_float, default=4.0, help="s per count")
    cli.add_argument("--rounds", type=positive_int, default=3, help="times each count is run")
    cli.add_argument("--flows", type=positive_int, default=5, help="distinct flows, warmed")
    cli.add_argument("--ops", action="store_true", help="METRICS_PORT set and LOG_FORMAT=json")
    cli.add_argument("--database-url", metavar="URL", help="default: a SQLite file of its own")
    args = cli.parse_args()
    results = measured(run(args))
    ok = results.throughput_met and results.latency_met and results.verified
    return finish(args, __doc__, render(results, args), results, ok, *DISTRIBUTIONS)


if __name__ == "__main__":
    sys.exit(main())
