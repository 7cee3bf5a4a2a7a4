"""Benchmark signed /flowpreview commands answered from the cache, beside a bare Bolt ceiling.

Run from the project root::

    python -m bench.bench_slack [--rate N] [--duration S] [--workers N,N,...]
                                [--level-duration S] [--rounds N] [--flows N] [--ops]
                                [--database-url URL] [--json PATH]

Two servers run as subprocesses of their own, side by side in the same run:

- flowpreview: `python -m bot serve` in HTTP mode, its CAMS endpoint the emulator (a third
  subprocess, throttling off) and its Slack Web API the fake Slack in this process.
- bare Bolt: `python -m bench.bare_bolt`, a Bolt AsyncApp served the same way whose
  /flowpreview handler only acks; what any Bolt app on aiohttp costs, the ceiling.

This process is the load generator: one aiohttp session with keep-alive, a fresh
response_url and trigger_id in every body, each body signed right before it is sent. The
flows are warmed first (one command each), so that every measured command is a cache hit: the
preview comes back in the ack. Every measured answer must be HTTP 200 and, for flowpreview,
hold the flow's preview URL as the emulator issued it; anything else, a timeout included
(Slack gives up after 3 s), counts as an error. The emulator must see no call and the fake
Slack no response_url post while measuring.

1. Ack latency at a fixed offered load (default 100 commands/s for 10 s), open loop: sends
   are scheduled at fixed times whatever the answers do, and each latency runs from the
   scheduled time to the last byte of the answer, so a server that falls behind is charged
   for the queue it builds.
2. Maximum sustained throughput, closed loop: N workers each send their next command when
   the last is answered, for a few seconds per N. The best rate without errors counts. A
   shared machine's speed swings by a fifth within seconds (other tenants), so every N is
   measured --rounds times (default 3), the servers taking turns to go first, and each
   server's best over all rounds and worker counts is compared: the same best-of rule for
   both, as timeit takes the fastest of its repeats. Both
   servers run Bolt with process_before_response=True, as the bot does, so each answers as
   soon as its listener returns (with Bolt's default, False, it polls for the ack every
   10 ms). It still takes dozens of workers to keep a server's core busy, hence the default
   1, 16, 64, 128.

The load generator shares the machine with the servers; with two cores it has one of them
while a server has the other, which is why its CPU share is reported beside the server's.
Targets: flowpreview's best throughput at least 70% of bare Bolt's, and its p99 ack latency
at the fixed load at most 20 ms. The exit status is 1 when a target is missed or any request
failed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.support import (
    HOST,
    EmulatorControl,
    describe_machine,
    free_port,
    inherited_env,
    machine,
    machine_cpu_seconds,
    markdown_table,
    percentile,
    positive_float,
    positive_int,
    process_cpu_seconds,
    progress,
    python_process,
    running_emulator,
    verdict,
    wait_until_answering,
    write_json,
)
from bot.cams.client import CamsClient
from bot.cams.credentials import ACCESS_KEY_ID, ACCESS_KEY_SECRET
from bot.cams.settings import CamsSettings
from bot.config import Endpoint
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers

FLOWPREVIEW = "flowpreview"
BARE = "bare Bolt"
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-token"
THROUGHPUT_TARGET = 0.70
P99_TARGET_S = 0.020
# Slack shows an error when the ack has not arrived within 3 s; so does this benchmark.
SLACK_ACK_TIMEOUT = aiohttp.ClientTimeout(total=3.0)
# Sixteen digits, like the flow IDs Meta hands out.
FLOW_ID_BASE = 7_100_000_000_000_000
# Unmeasured load before every measured one, so that neither server is timed while cold.
WARM_S = 0.5
WARM_WORKERS = 4
# The idle server and emulator use about 1% of a core; more than this is someone else's load.
OTHERS_WARNING = 0.10
MS = 1000.0


@dataclass(frozen=True, slots=True)
class Server:
    """A running server under test: where to send commands and how to tell a right answer.

    `expected` maps each flow ID to bytes its answer must contain, or is empty when any
    200 answer is right (the bare ack has no body).
    """

    name: str
    base_url: str
    pid: int
    expected: dict[str, bytes]

    @property
    def events_url(self) -> str:
        """Where Slack POSTs commands."""
        return self.base_url + EVENTS_PATH


@dataclass(frozen=True, slots=True)
class Run:
    """One load on one server: a latency per request, the failures, and what it cost."""

    server: str
    load: str
    latencies: list[float]
    failures: int
    first_error: str | None
    wall_s: float
    client_cpu_s: float
    server_cpu_s: float | None
    machine_cpu_s: float | None

    @property
    def requests(self) -> int:
        """How many commands were sent."""
        return len(self.latencies)

    @property
    def per_s(self) -> float:
        """Commands answered rightly per second of wall clock."""
        return (self.requests - self.failures) / self.wall_s

    def latency_ms(self, p: float) -> float:
        """The `p`th percentile latency in milliseconds (failures included, as they waited)."""
        return percentile(self.latencies, p) * MS

    @property
    def max_ms(self) -> float:
        """The longest latency in milliseconds."""
        return max(self.latencies) * MS

    @property
    def server_cpu_ms(self) -> float | None:
        """The server's CPU milliseconds per command, where /proc tells."""
        if self.server_cpu_s is None:
            return None
        return self.server_cpu_s * MS / self.requests

    @property
    def server_busy(self) -> float | None:
        """The share of one core the server used, where /proc tells."""
        return None if self.server_cpu_s is None else self.server_cpu_s / self.wall_s

    @property
    def client_busy(self) -> float:
        """The share of one core the load generator (this process) used."""
        return self.client_cpu_s / self.wall_s

    @property
    def others_busy(self) -> float | None:
        """Cores' worth of CPU that every other process on the machine used, where /proc tells.

        The idle server and the emulator are among them; much more than a few percent means
        something else was running and the figures may be skewed.
        """
        if self.machine_cpu_s is None or self.server_cpu_s is None:
            return None
        # The counts are in 10 ms ticks, so an idle rest can come out a little below zero.
        rest = self.machine_cpu_s - self.server_cpu_s - self.client_cpu_s
        return max(0.0, rest) / self.wall_s

    def to_json(self) -> dict[str, Any]:
        """The raw figures and the derived ones, latencies in seconds."""
        return {
            "server": self.server,
            "load": self.load,
            "requests": self.requests,
            "failures": self.failures,
            "first_error": self.first_error,
            "wall_s": self.wall_s,
            "per_s": self.per_s,
            "p50_ms": self.latency_ms(50),
            "p99_ms": self.latency_ms(99),
            "max_ms": self.max_ms,
            "client_cpu_s": self.client_cpu_s,
            "server_cpu_s": self.server_cpu_s,
            "server_cpu_ms_per_request": self.server_cpu_ms,
            "machine_cpu_s": self.machine_cpu_s,
            "latencies_s": self.latencies,
        }


class Commander:
    """Sends signed /flowpreview commands, cycling through the flows, and judges the answers."""

    def __init__(
        self, session: aiohttp.ClientSession, fake: FakeSlack, flow_ids: Sequence[str]
    ) -> None:
        self._session = session
        self._fake = fake
        self._flow_ids = flow_ids
        self._sent = 0

    async def send(self, server: Server) -> str | None:
        """One command; None when rightly answered, else what was wrong."""
        flow_id = self._flow_ids[self._sent % len(self._flow_ids)]
        self._sent += 1
        # Slack puts a new response_url and trigger_id into every command and signs it as it
        # sends, so a body is built and signed per request.
        body = payloads.slash_command(flow_id, response_url=self._fake.new_response_url())
        headers = signed_headers(SIGNING_SECRET, body)
        try:
            async with self._session.post(server.events_url, data=body, headers=headers) as answer:
                content = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if status != 200:
            return f"HTTP {status}: {content[:200]!r}"
        expected = server.expected.get(flow_id)
        if expected is not None and expected not in content:
            return f"answer without the preview URL of {flow_id}: {content[:200]!r}"
        return None


class Tally:
    """Latencies and failures as they come in."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.failures = 0
        self.first_error: str | None = None

    def record(self, latency: float, error: str | None) -> None:
        """Keep one request's latency, and its error if it had one."""
        self.latencies.append(latency)
        if error is not None:
            self.failures += 1
            self.first_error = self.first_error or error


Load = Callable[[Commander, Server, Tally], Awaitable[None]]


async def measure(commander: Commander, server: Server, name: str, load: Load) -> Run:
    """Apply `load` to `server` after a short unmeasured warm-up; time it and its CPU."""
    await closed_loop(WARM_WORKERS, WARM_S)(commander, server, Tally())
    tally = Tally()
    machine_cpu = machine_cpu_seconds()
    server_cpu = process_cpu_seconds(server.pid)
    client_cpu = time.process_time()
    started = time.perf_counter()
    await load(commander, server, tally)
    wall_s = time.perf_counter() - started
    client_cpu_s = time.process_time() - client_cpu
    server_cpu_after = process_cpu_seconds(server.pid)
    machine_cpu_after = machine_cpu_seconds()
    return Run(
        server=server.name,
        load=name,
        latencies=tally.latencies,
        failures=tally.failures,
        first_error=tally.first_error,
        wall_s=wall_s,
        client_cpu_s=client_cpu_s,
        server_cpu_s=difference(server_cpu, server_cpu_after),
        machine_cpu_s=difference(machine_cpu, machine_cpu_after),
    )


def difference(before: float | None, after: float | None) -> float | None:
    """`after - before`, or None when either is unknown."""
    return None if before is None or after is None else after - before


def open_loop(rate: float, duration: float) -> Load:
    """Send `rate` commands a second for `duration` s at fixed times, whatever the answers do."""

    async def load(commander: Commander, server: Server, tally: Tally) -> None:
        loop = asyncio.get_running_loop()

        async def one(scheduled: float) -> None:
            error = await commander.send(server)
            # From the scheduled time, not the actual send: any lag of this process's own
            # is charged too, which can only make the figures worse, never better.
            tally.record(loop.time() - scheduled, error)

        start = loop.time()
        async with asyncio.TaskGroup() as group:
            for index in range(round(rate * duration)):
                scheduled = start + index / rate
                delay = scheduled - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                group.create_task(one(scheduled))

    return load


def closed_loop(workers: int, duration: float) -> Load:
    """`workers` workers, each sending its next command once the last is answered."""

    async def load(commander: Commander, server: Server, tally: Tally) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration

        async def worker() -> None:
            while loop.time() < end:
                sent = loop.time()
                error = await commander.send(server)
                tally.record(loop.time() - sent, error)

        async with asyncio.TaskGroup() as group:
            for _ in range(workers):
                group.create_task(worker())

    return load


def server_env(port: int, fake: FakeSlack, emulator: EmulatorControl) -> dict[str, str]:
    """The environment of both servers: this one's minus our variables, plus the bench's."""
    return inherited_env() | {
        "PORT": str(port),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": fake.api_url,
        "SLACK_RESPONSE_URL_HOSTS": fake.reply_host,
        ACCESS_KEY_ID: DEMO_CREDENTIALS.access_key_id,
        ACCESS_KEY_SECRET: DEMO_CREDENTIALS.access_key_secret.reveal(),
        "CAMS_ENDPOINT": emulator.base_url,
        "LOG_LEVEL": "WARNING",
    }


@contextlib.asynccontextmanager
async def running_server(
    name: str,
    arguments: Sequence[str],
    env: dict[str, str],
    session: aiohttp.ClientSession,
    expected: dict[str, bytes],
) -> AsyncIterator[Server]:
    """Run `python <arguments>`, serving on env's PORT, until the block ends; yield it once up."""
    async with python_process(arguments, env) as process:
        base_url = f"http://{HOST}:{env['PORT']}"
        await wait_until_answering(session, base_url + HEALTH_PATH, process, name)
        yield Server(name, base_url, process.pid, expected)


async def issued_urls(emulator: EmulatorControl, flow_ids: Sequence[str]) -> dict[str, bytes]:
    """Each flow's preview URL as the emulator issues it to the demo account, to check against.

    The emulator hands out the same link for an (account, space, flow) until it expires, so
    the bot must show exactly this one.
    """
    settings = CamsSettings(Endpoint.parse(emulator.base_url))
    async with CamsClient(DEMO_CREDENTIALS, settings) as client:
        return {
            flow_id: (await client.get_flow_preview_url(flow_id)).preview_url.encode()
            for flow_id in flow_ids
        }


async def first_commands(commander: Commander, server: Server, flow_ids: Sequence[str]) -> None:
    """One command per flow, one at a time; raise on a wrong answer.

    They make each server's one auth.test call, and put every flow into flowpreview's cache.
    """
    for _ in flow_ids:
        error = await commander.send(server)
        if error is not None:
            raise RuntimeError(f"{server.name}'s first commands failed: {error}")


@dataclass(frozen=True, slots=True)
class Results:
    """Everything measured in one run, and the checks that the answers came from the cache."""

    latency: dict[str, Run]
    levels: list[dict[str, Run]]
    upstream_calls: int
    followups: int
    wall_s: float

    def best(self, server: str) -> Run | None:
        """The closed-loop run of `server` with the most commands/s and no errors."""
        clean = [level[server] for level in self.levels if level[server].failures == 0]
        return max(clean, key=lambda run: run.per_s, default=None)

    @property
    def runs(self) -> list[Run]:
        """Every measured run."""
        return [*self.latency.values(), *(run for level in self.levels for run in level.values())]

    @property
    def failures(self) -> int:
        """Wrong answers over all runs."""
        return sum(run.failures for run in self.runs)

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
        return run.failures == 0 and run.latency_ms(99) <= P99_TARGET_S * MS

    @property
    def verified(self) -> bool:
        """No wrong answer, no upstream call and no follow-up while measuring."""
        return self.failures == 0 and self.upstream_calls == 0 and self.followups == 0


async def run(args: argparse.Namespace) -> Results:
    """Start the emulator, the fake Slack and both servers; warm up; measure both in turn."""
    flow_ids = [str(FLOW_ID_BASE + index) for index in range(args.flows)]
    with tempfile.TemporaryDirectory(prefix="bench-slack-") as home:
        return await _run(args, flow_ids, home)


async def _run(args: argparse.Namespace, flow_ids: list[str], home: str) -> Results:
    async with (
        running_emulator(qps=0) as emulator,
        running_fake_slack(bot_token=BOT_TOKEN) as fake,
        # No pool limit: the workers and the pacing bound the connections, and with aiohttp's
        # default of 100, workers beyond it starved waiting for one and timed out.
        aiohttp.ClientSession(
            timeout=SLACK_ACK_TIMEOUT, connector=aiohttp.TCPConnector(limit=0)
        ) as session,
    ):
        expected = await issued_urls(emulator, flow_ids)
        # Its audit trail and rules in a SQLite file of the run's own, or the database given.
        database = (
            {"DATABASE_URL": args.database_url}
            if args.database_url
            else {"DATABASE_PATH": str(Path(home) / "flowpreview.sqlite3")}
        )
        ours_env = server_env(free_port(), fake, emulator) | database
        if args.ops:
            # As operators run it: metrics served and every log line a JSON object.
            ours_env |= {"METRICS_PORT": str(free_port()), "LOG_FORMAT": "json"}
        bare_env = server_env(free_port(), fake, emulator)
        progress("starting both servers ...")
        async with (
            running_server(
                FLOWPREVIEW, ["-m", "bot", "serve", "--host", HOST], ours_env, session, expected
            ) as ours,
            running_server(
                BARE,
                ["-m", "bench.bare_bolt", "--port", bare_env["PORT"]],
                bare_env,
                session,
                {},
            ) as bare,
        ):
            commander = Commander(session, fake, flow_ids)
            await first_commands(commander, ours, flow_ids)
            await first_commands(commander, bare, flow_ids)
            # From here on every flowpreview answer must come from its cache.
            await emulator.reset()
            followups_before = len(fake.deliveries)
            started = time.perf_counter()
            latency: dict[str, Run] = {}
            for server in (ours, bare):
                progress(f"{server.name}: {args.rate:g}/s open loop for {args.duration:g} s ...")
                latency[server.name] = await measure(
                    commander, server, "open loop", open_loop(args.rate, args.duration)
                )
            levels: list[dict[str, Run]] = []
            for round_index in range(args.rounds):
                # Each round in the other order: neither server always finds the machine as
                # the other left it.
                order = (ours, bare) if round_index % 2 == 0 else (bare, ours)
                for workers in args.workers:
                    level: dict[str, Run] = {}
                    for server in order:
                        progress(
                            f"round {round_index + 1}: {server.name}: {workers} workers for "
                            f"{args.level_duration:g} s ..."
                        )
                        level[server.name] = await measure(
                            commander,
                            server,
                            f"{workers} workers",
                            closed_loop(workers, args.level_duration),
                        )
                    levels.append({name: level[name] for name in (FLOWPREVIEW, BARE)})
            wall_s = time.perf_counter() - started
            stats = await emulator.stats()
            followups = len(fake.deliveries) - followups_before
    return Results(latency, levels, stats.received, followups, wall_s)


def ms(value: float | None) -> str:
    """Milliseconds with two decimals, or n/a."""
    return "n/a" if value is None else f"{value:.2f}"


def share(value: float | None) -> str:
    """A share of one core as a percentage, or n/a."""
    return "n/a" if value is None else f"{value * 100:.0f}%"


RUN_HEADERS = [
    "requests",
    "errors",
    "answered/s",
    "p50 ms",
    "p99 ms",
    "max ms",
    "server CPU ms/req",
    "server core busy",
    "load generator core busy",
    "other processes' cores busy",
]


def run_cells(run: Run) -> list[str]:
    """One run's cells under RUN_HEADERS."""
    return [
        f"{run.requests:,}",
        f"{run.failures:,}",
        f"{run.per_s:,.0f}",
        ms(run.latency_ms(50)),
        ms(run.latency_ms(99)),
        ms(run.max_ms),
        ms(run.server_cpu_ms),
        share(run.server_busy),
        share(run.client_busy),
        share(run.others_busy),
    ]


def targets_table(results: Results, rate: float) -> str:
    """flowpreview's two targets with bare Bolt's figures beside them."""
    ours, bare = results.best(FLOWPREVIEW), results.best(BARE)
    ratio = results.throughput_ratio

    def best_cell(run: Run | None) -> str:
        if run is None:
            return "no run without errors"
        return f"{run.per_s:,.0f}/s ({run.load}, p99 {ms(run.latency_ms(99))} ms)"

    lat_ours, lat_bare = results.latency[FLOWPREVIEW], results.latency[BARE]
    return markdown_table(
        ["target", FLOWPREVIEW, BARE, "figure", "verdict"],
        [
            [
                f"max sustained throughput >= {THROUGHPUT_TARGET:.0%} of bare Bolt's",
                best_cell(ours),
                best_cell(bare),
                "n/a" if ratio is None else f"{ratio:.0%}",
                verdict(results.throughput_met),
            ],
            [
                f"p99 ack latency at {rate:g} req/s <= {P99_TARGET_S * MS:g} ms",
                f"{ms(lat_ours.latency_ms(99))} ms ({lat_ours.failures} errors)",
                f"{ms(lat_bare.latency_ms(99))} ms ({lat_bare.failures} errors)",
                f"{ms(lat_ours.latency_ms(99))} ms",
                verdict(results.latency_met),
            ],
        ],
        align="lllrl",
    )


def render(results: Results, args: argparse.Namespace) -> str:
    """The report: machine and setup, the fixed-load table, the closed-loop table, targets."""
    workers = ", ".join(str(n) for n in args.workers)
    lines = [
        "# /flowpreview on cache hits: flowpreview vs a bare Bolt AsyncApp (the ceiling)",
        "",
        describe_machine("slack-bolt", "slack-sdk"),
        "Load generator, both servers and the CAMS emulator share this machine: each server is "
        "a process of its own (one core at most, as an asyncio server), the load generator "
        "(this process, one aiohttp session with keep-alive, every body signed as it is sent) "
        "takes the other core. Only one server is loaded at a time.",
        f"Every command is a cache hit over {args.flows} warmed flows: the ack carries the "
        "preview. flowpreview's answers must be HTTP 200 and hold the flow's preview URL; bare "
        "Bolt's (an empty ack) HTTP 200; a timeout is 3 s, as Slack's. Server CPU from "
        "/proc, per request; 'core busy' is CPU time over wall time; 'other processes' is "
        "the rest of the machine (the idle server and emulator included) over the same time.",
        (
            "flowpreview runs as operators run it: METRICS_PORT set (metrics counted and served) "
            "and LOG_FORMAT=json."
            if args.ops
            else "flowpreview runs with its defaults: no metrics port, text logs."
        ),
        "",
        f"## 1. Ack latency at {args.rate:g} req/s offered for {args.duration:g} s (open loop)",
        "",
        "Sends at fixed times whatever the answers do; latency from the scheduled send time to "
        "the whole answer.",
        "",
        markdown_table(
            ["server", *RUN_HEADERS],
            [[name, *run_cells(run)] for name, run in results.latency.items()],
            align="l" + "r" * len(RUN_HEADERS),
        ),
        "",
        f"## 2. Sustained throughput, closed loop ({workers} workers, "
        f"{args.level_duration:g} s each, {args.rounds} round(s); each server's best counts)",
        "",
        markdown_table(
            ["round", "workers", "server", *RUN_HEADERS],
            [
                [str(index // len(args.workers) + 1), run.load.split()[0], name, *run_cells(run)]
                for index, level in enumerate(results.levels)
                for name, run in level.items()
            ],
            align="rrl" + "r" * len(RUN_HEADERS),
        ),
        "",
        "## Targets",
        "",
        targets_table(results, args.rate),
        "",
        f"While measuring, the emulator received {results.upstream_calls} calls and the fake "
        f"Slack {results.followups} response_url posts (both must be 0: every answer from the "
        f"cache, in the ack). Measured for {results.wall_s:.0f} s.",
    ]
    disturbed = [run for run in results.runs if (run.others_busy or 0.0) > OTHERS_WARNING]
    if disturbed:
        worst = max(disturbed, key=lambda run: run.others_busy or 0.0)
        lines.append(
            f"WARNING: other processes used over {OTHERS_WARNING:.0%} of a core in "
            f"{len(disturbed)} of {len(results.runs)} runs (most: {share(worst.others_busy)} in "
            f"{worst.server} {worst.load}); with two cores those figures are skewed, so run "
            "again on a quiet machine."
        )
    lines += [
        f"ERRORS {run.server} {run.load}: {run.failures} of {run.requests}; first: "
        f"{run.first_error}"
        for run in results.runs
        if run.failures
    ]
    return "\n".join(lines)


def worker_counts(text: str) -> list[int]:
    """argparse type: comma-separated worker counts, each at least 1."""
    counts = [positive_int(part) for part in text.split(",")]
    return sorted(set(counts))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_slack",
        description="Signed /flowpreview commands on cache hits: flowpreview vs bare Bolt.",
    )
    parser.add_argument(
        "--rate", type=positive_float, default=100.0, help="offered commands/s (default 100)"
    )
    parser.add_argument(
        "--duration", type=positive_float, default=10.0, help="seconds at --rate (default 10)"
    )
    parser.add_argument(
        "--workers",
        type=worker_counts,
        default=[1, 16, 64, 128],
        help="closed-loop worker counts, comma-separated (default 1,16,64,128)",
    )
    parser.add_argument(
        "--level-duration",
        type=positive_float,
        default=4.0,
        help="seconds per worker count (default 4)",
    )
    parser.add_argument(
        "--rounds",
        type=positive_int,
        default=3,
        help="times every worker count is measured, each server's best counting (default 3)",
    )
    parser.add_argument(
        "--flows", type=positive_int, default=5, help="distinct flows, warmed first (default 5)"
    )
    parser.add_argument(
        "--ops",
        action="store_true",
        help="run flowpreview with METRICS_PORT set and LOG_FORMAT=json",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="flowpreview's DATABASE_URL (default: a SQLite file of the run's own)",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or a wrong answer."""
    args = parse_args(argv)
    started = time.perf_counter()
    results = asyncio.run(run(args))
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print(render(results, args))
    if args.json is not None:
        write_json(
            args.json,
            {
                **machine("slack-bolt", "slack-sdk"),
                "targets": {
                    "throughput_ratio_min": THROUGHPUT_TARGET,
                    "p99_s_max": P99_TARGET_S,
                },
                "settings": vars(args) | {"json": str(args.json)},
                "latency": {name: run.to_json() for name, run in results.latency.items()},
                "levels": [
                    {name: run.to_json() for name, run in level.items()} for level in results.levels
                ],
                "upstream_calls": results.upstream_calls,
                "followups": results.followups,
                "throughput_ratio": results.throughput_ratio,
                "throughput_met": results.throughput_met,
                "latency_met": results.latency_met,
            },
        )
    met = results.throughput_met and results.latency_met
    return 0 if met and results.verified else 1


if __name__ == "__main__":
    sys.exit(main())
