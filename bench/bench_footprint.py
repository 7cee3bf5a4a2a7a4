"""Memory and start-up: `python -m bot serve` beside a bare Bolt app, at idle and after asks.

Both are processes of their own in the same run (bench/bare_bolt.py); resident memory (VmRSS)
is read from /proc. 1. Start to a healthy /healthz, the schema current, --rounds times each,
in turn; the medians count. 2. At idle; after --previews signed `/flowpreview <flow id>`
commands, each for a new flow (a cached preview each on serve); after --asks in all, new flows
still, cycling through the cache; then, on serve, with SQLite's write lock held by the
benchmark, asks until the audit trail's queue is full. 3. serve on PostgreSQL and redis-server,
at idle. 4. Modules loaded and import times (-X importtime), and memory by package
(tracemalloc), at idle. Targets: idle <= 1.3x bare Bolt's (1.5x on PostgreSQL and Redis),
start <= 1.5x, the previews <= idle + 20 MiB, the last asks within 5% of the first.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.common import (
    BOT_TOKEN,
    HOST,
    MS,
    ROOT,
    SIGNING_SECRET,
    SLACK_TIMEOUT,
    Target,
    finish,
    fixed,
    markdown_table,
    measured,
    parser,
    percentile,
    positive_int,
    postgres,
    progress,
    server_env,
    target,
    targets_table,
)
from bench.footprint_readings import (
    MB,
    Memory,
    PackageImports,
    Traced,
    group_imports,
)
from bench.footprint_servers import (
    SETTLE_S,
    TRACE_OUT,
    Launched,
    Spec,
    launched,
    settled_memory,
    sqlite_write_lock,
    wait_healthy,
    write_trace,
)
from bot.preview.settings import PreviewSettings
from bot.slack.constants import EVENTS_PATH
from bot.standin.harness.importtime import parse_importtime
from bot.standin.harness.processes import EmulatorControl, controlled_emulator
from bot.standin.harness.redis_server import running_redis
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import FakeSlack, running_fake_slack
from bot.standin.slack.signing import signed_headers
from bot.store import audit
from bot.store.settings import DEFAULT_PATH

SERVE = "flowpreview serve"
SHARED = "serve on PostgreSQL + Redis"
BARE = "bare Bolt"
DISTRIBUTIONS = ("slack-bolt", "slack-sdk", "sqlalchemy")
# Sixteen digits, like the flow IDs Meta hands out.
FLOW_ID_BASE = 7_300_000_000_000_000
IDLE_TARGET = 1.3
SHARED_IDLE_TARGET = 1.5
START_TARGET = 1.5
PREVIEWS_TARGET_MIB = 20.0
FLAT_TARGET_PERCENT = 5.0
# serve's budget per action: above what it answers a second here, so that no ask waits for a
# slot, and no more, as the limiter keeps the times of its last CAMS_QPS grants (16 KiB a 500).
DEFAULT_QPS = 2000
DEFAULT_CONCURRENCY = 16
PROGRESS_EVERY = 10_000
# What serve's log says when the audit trail drops records, and when its writer fails; lines
# are quoted from AUDIT_LOG on.
DROPPED_MARK = "record(s) dropped"
FAILING_MARK = "audit trail: cannot write"
AUDIT_LOG = "audit trail:"
TRACE_TOP = 10
TRACE_TOP_ENV = "FOOTPRINT_TRACE_TOP"
IMPORTS_TOP = 10
# CAMS_CACHE_SIZE's default: the previews serve keeps.
CACHE_SIZE = PreviewSettings.from_env({}).cache_size


@dataclass(frozen=True, slots=True)
class AskRun:
    """Asks sent to one server: each one's wait in s, what went wrong, and the wall time."""

    server: str
    part: str
    latencies: list[float]
    errors: list[str]
    wall_s: float

    @property
    def count(self) -> int:
        """Asks sent."""
        return len(self.latencies)

    @property
    def ok(self) -> int:
        """Asks rightly answered."""
        return self.count - len(self.errors)

    @property
    def per_s(self) -> float:
        """Asks per second of wall clock."""
        return self.count / self.wall_s if self.wall_s else 0.0

    def cells(self) -> str:
        """Its cells in the asks table."""
        p50, p99 = (percentile(self.latencies, p) * MS for p in (50, 99))
        return (
            f"{self.server} | {self.part} | {self.count:,} | {self.ok:,} | {len(self.errors):,} | "
            f"{self.per_s:,.0f} | {fixed(p50)} | {fixed(p99)}"
        )


def combined(runs: Sequence[AskRun], part: str) -> AskRun:
    """`runs` of one server as one."""
    return AskRun(
        runs[0].server,
        part,
        [wait for run in runs for wait in run.latencies],
        [error for run in runs for error in run.errors],
        sum(run.wall_s for run in runs),
    )


@dataclass
class Asker:
    """Sends signed `/flowpreview <flow id>` commands, as Slack does, and checks the answers."""

    session: aiohttp.ClientSession
    fake: FakeSlack

    async def one(self, server: Launched, flow_id: str, *, preview: bool) -> str | None:
        """One command; None when rightly answered (with `preview`: with the flow's preview
        link in the ack), else what was wrong."""
        body = payloads.slash_command(flow_id, response_url=self.fake.new_response_url())
        headers = signed_headers(SIGNING_SECRET, body)
        url = server.base_url + EVENTS_PATH
        try:
            async with self.session.post(url, data=body, headers=headers) as answer:
                content = await answer.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            return f"{type(exc).__name__}: {exc}"
        if answer.status != 200:
            return f"HTTP {answer.status}: {content[:160]!r}"
        # The emulator's links end /<flow id>/preview/?token=...; only the start is shown.
        if preview and f"/{flow_id}/preview/?token=" not in content:
            return f"no preview link for {flow_id}: {content[:160]!r}"
        return None

    async def many(
        self,
        server: Launched,
        flow_ids: Sequence[str],
        part: str,
        concurrency: int,
        *,
        preview: bool,
    ) -> AskRun:
        """Ask for each of `flow_ids` in turn, `concurrency` at a time."""
        pending = iter(flow_ids)
        latencies: list[float] = []
        errors: list[str] = []

        async def worker() -> None:
            for flow_id in pending:
                started = time.perf_counter()
                error = await self.one(server, flow_id, preview=preview)
                latencies.append(time.perf_counter() - started)
                if error is not None:
                    errors.append(error)
                if len(latencies) % PROGRESS_EVERY == 0:
                    progress(f"{server.spec.name}: {part}: {len(latencies):,} asks")

        started = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for _ in range(concurrency):
                group.create_task(worker())
        return AskRun(server.spec.name, part, latencies, errors, time.perf_counter() - started)


@dataclass
class Logs:
    """Where each server started writes its stderr: a file of its own, numbered in order."""

    folder: Path
    started: itertools.count[int]

    def next(self, what: str) -> Path:
        """The file for the next server started, named after `what` it is started for."""
        slug = "-".join(what.lower().replace("+", " ").split())
        return self.folder / f"{next(self.started):02d}-{slug}.log"


@dataclass(frozen=True, slots=True)
class Starts:
    """Seconds to a healthy /healthz: serve's first start (which migrates its SQLite file),
    and each server's starts with the schema current."""

    migrating_s: float
    times: dict[str, list[float]]

    def median(self, name: str) -> float:
        """The median of `name`'s starts."""
        return statistics.median(self.times[name])

    def cells(self, name: str) -> str:
        """The median, with the least and the most, in s."""
        times = self.times[name]
        return f"{self.median(name):.2f} ({min(times):.2f}-{max(times):.2f})"


@dataclass(frozen=True, slots=True)
class Loaded:
    """One server's memory at idle, after the previews and after every ask; and the asks."""

    idle: Memory
    after_previews: Memory
    after_asks: Memory
    runs: list[AskRun]


@dataclass(frozen=True, slots=True)
class AuditFill:
    """serve with the audit trail's writer locked out: memory before and once the queue was
    full, the asks sent meanwhile, and serve's log line saying it dropped records (if any).

    `earlier` is what its log said before the lock was taken, when it already said the writer
    failed or records were dropped: then it logs further drops only a minute after the first.
    """

    bound: int
    before: Memory
    full: Memory
    run: AskRun
    dropped_line: str | None
    earlier: list[str]


@dataclass(frozen=True, slots=True)
class SharedStart:
    """serve on PostgreSQL and Redis: its first start (migrating), a second one, and its
    memory at idle after the second."""

    migrating_s: float
    start_s: float
    idle: Memory


@dataclass(frozen=True, slots=True)
class Results:
    """Everything measured."""

    starts: Starts
    loaded: dict[str, Loaded]
    audit: AuditFill
    shared: SharedStart
    imports: dict[str, list[PackageImports]]
    modules: dict[str, int]
    traced: dict[str, Traced]
    wall_s: float


def specs(
    work: Path, fake: FakeSlack, emulator: EmulatorControl, qps: int, cache_size: int
) -> list[Spec]:
    """serve (in a working directory of its own, where its SQLite file goes, keeping
    `cache_size` previews) and bare Bolt."""
    home = work / "serve"
    home.mkdir()
    serve = Spec(
        SERVE,
        ("-m", "bot", "serve", "--host", HOST),
        server_env(fake, emulator, CAMS_QPS=str(qps), CAMS_CACHE_SIZE=str(cache_size)),
        home,
    )
    bare = Spec(BARE, ("-m", "bench.bare_bolt"), server_env(fake, emulator), ROOT, port_flag=True)
    return [serve, bare]


async def time_starts(
    session: aiohttp.ClientSession, servers: Sequence[Spec], rounds: int, logs: Logs
) -> Starts:
    """serve's first start, then `rounds` starts of each server, taking turns."""
    progress("starts: serve once, migrating its SQLite file ...")
    async with launched(servers[0], logs.next("migrating")) as first:
        migrating_s = await wait_healthy(session, first)
    times: dict[str, list[float]] = {spec.name: [] for spec in servers}
    for round_index in range(rounds):
        progress(f"starts: round {round_index + 1} of {rounds} ...")
        # Each round in the other order, so that neither always starts just after the other.
        order = servers if round_index % 2 == 0 else list(reversed(servers))
        for spec in order:
            async with launched(spec, logs.next(f"start {spec.name}")) as server:
                times[spec.name].append(await wait_healthy(session, server))
    return Starts(migrating_s, times)


async def load(
    asker: Asker,
    server: Launched,
    idle: Memory,
    flow_ids: Sequence[str],
    args: argparse.Namespace,
    *,
    preview: bool,
) -> Loaded:
    """The first --previews asks, then the rest; memory after each part."""
    name = server.spec.name
    first, rest = flow_ids[: args.previews], flow_ids[args.previews :]
    progress(f"{name}: {len(first):,} asks for new flows ...")
    runs = [
        await asker.many(server, first, f"first {len(first):,}", args.concurrency, preview=preview)
    ]
    after_previews = await settled_memory(asker.session, server)
    if rest:
        progress(f"{name}: {len(rest):,} more ...")
        part = f"{len(first) + 1:,} to {len(flow_ids):,}"
        runs.append(await asker.many(server, rest, part, args.concurrency, preview=preview))
    after_asks = await settled_memory(asker.session, server)
    return Loaded(idle, after_previews, after_asks, runs)


def audit_logged(text: str, mark: str) -> str | None:
    """The first line of the log `text` holding `mark`: from AUDIT_LOG on, without the
    request's context in brackets."""
    line = next((line for line in text.splitlines() if mark in line), None)
    if line is None:
        return None
    return line[line.find(AUDIT_LOG) :].split(" [", 1)[0]


async def fill_audit_queue(
    asker: Asker, server: Launched, cached: Sequence[str], before: Memory, concurrency: int
) -> AuditFill:
    """Hold SQLite's write lock and ask for flows still cached until serve says it dropped
    audit records (at most twice the queue's bound); its memory then."""
    bound = audit.MAX_QUEUE
    database = server.spec.cwd / DEFAULT_PATH
    flows = itertools.cycle(cached)
    log = server.log_text()
    logged = len(log)
    earlier = [
        line for line in (audit_logged(log, mark) for mark in (FAILING_MARK, DROPPED_MARK)) if line
    ]
    runs: list[AskRun] = []
    async with sqlite_write_lock(database):
        progress(f"{server.spec.name}: SQLite locked; asks until {bound:,} audit records wait ...")
        # The queue holds `bound` records, the writer a batch more: then records are dropped.
        count = bound
        while True:
            batch = [next(flows) for _ in range(count)]
            runs.append(await asker.many(server, batch, "SQLite locked", concurrency, preview=True))
            dropped = audit_logged(server.log_text()[logged:], DROPPED_MARK)
            # Having logged already, it would say no more for a minute: the queue is full now.
            if dropped is not None or earlier or sum(run.count for run in runs) >= 2 * bound:
                break
            count = audit.BATCH
        full = await settled_memory(asker.session, server)
    run = combined(runs, "audit queue filling, SQLite locked")
    return AuditFill(bound, before, full, run, dropped, earlier)


async def measure_loads(
    session: aiohttp.ClientSession,
    fake: FakeSlack,
    servers: Sequence[Spec],
    args: argparse.Namespace,
    logs: Logs,
) -> tuple[dict[str, Loaded], AuditFill]:
    """Both at idle; serve's asks and its audit queue filled; then bare Bolt's asks."""
    serve_spec, bare_spec = servers
    asker = Asker(session, fake)
    flow_ids = [str(FLOW_ID_BASE + index) for index in range(args.asks)]
    progress("memory: starting both ...")
    async with launched(bare_spec.probed(), logs.next(f"memory {BARE}")) as bare:
        async with launched(serve_spec.probed(), logs.next(f"memory {SERVE}")) as serve:
            await wait_healthy(session, serve)
            await wait_healthy(session, bare)
            idle = {SERVE: await settled_memory(session, serve)}
            idle[BARE] = await settled_memory(session, bare)
            loaded = {SERVE: await load(asker, serve, idle[SERVE], flow_ids, args, preview=True)}
            cached = flow_ids[-args.previews :]
            before = loaded[SERVE].after_asks
            filled = await fill_audit_queue(asker, serve, cached, before, args.concurrency)
        # serve stopped first, so that its writer catching up takes no CPU from bare Bolt.
        loaded[BARE] = await load(asker, bare, idle[BARE], flow_ids, args, preview=False)
    return loaded, filled


async def measure_shared(
    session: aiohttp.ClientSession, serve: Spec, work: Path, logs: Logs
) -> SharedStart:
    """serve on a PostgreSQL and a redis-server of the benchmark's own, on free ports: started
    once to migrate, then again, and read at idle."""
    progress("PostgreSQL + Redis: starting both servers ...")
    async with postgres() as database_url, running_redis() as redis:
        home = work / "serve-shared"
        home.mkdir()
        spec = Spec(
            SHARED, serve.arguments, serve.env | {"DATABASE_URL": database_url}, home
        ).with_env(REDIS_URL=redis.url)
        progress("PostgreSQL + Redis: serve, migrating, then again ...")
        async with launched(spec, logs.next("shared migrating")) as first:
            migrating_s = await wait_healthy(session, first)
        async with launched(spec.probed(), logs.next("shared")) as server:
            start_s = await wait_healthy(session, server)
            idle = await settled_memory(session, server)
    return SharedStart(migrating_s, start_s, idle)


async def imports_of(
    session: aiohttp.ClientSession, spec: Spec, logs: Logs
) -> tuple[list[PackageImports], int]:
    """`spec` started with -X importtime: its imports by package, and how many modules it had
    loaded once healthy and at rest (read then: stopping may import more)."""
    async with launched(spec, logs.next(f"importtime {spec.name}"), ("-X", "importtime")) as run:
        await wait_healthy(session, run)
        await asyncio.sleep(SETTLE_S)
        imported = parse_importtime(run.log_text())
    return group_imports(imported), len(imported)


async def traced(session: aiohttp.ClientSession, spec: Spec, work: Path, logs: Logs) -> Traced:
    """`spec` started with the probe tracing its allocations; what it holds at rest."""
    log = logs.next(f"trace {spec.name}")
    out = work / f"{log.stem}.json"
    env = {TRACE_OUT: str(out), TRACE_TOP_ENV: str(TRACE_TOP)}
    async with launched(spec.probed(**env), log) as run:
        await wait_healthy(session, run)
        await asyncio.sleep(SETTLE_S)
        await write_trace(run, out)
    return Traced.read(out)


async def run(args: argparse.Namespace) -> Results:
    """Start the emulator and the fake Slack, then measure part by part."""
    started = time.perf_counter()
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        controlled_emulator("--qps", "0") as emulator,
        running_fake_slack(bot_token=BOT_TOKEN) as fake,
        aiohttp.ClientSession(timeout=SLACK_TIMEOUT, connector=connector) as session,
    ):
        with tempfile.TemporaryDirectory(prefix="bench-footprint-") as folder:
            work = Path(folder)
            if args.logs is not None:
                args.logs.mkdir(parents=True, exist_ok=True)
            logs = Logs(args.logs or work, itertools.count(1))
            servers = specs(work, fake, emulator, args.qps, args.previews)
            starts = await time_starts(session, servers, args.rounds, logs)
            loaded, filled = await measure_loads(session, fake, servers, args, logs)
            shared = await measure_shared(session, servers[0], work, logs)
            imports: dict[str, list[PackageImports]] = {}
            modules: dict[str, int] = {}
            memory: dict[str, Traced] = {}
            for spec in servers:
                progress(f"{spec.name}: -X importtime, then tracemalloc ...")
                imports[spec.name], modules[spec.name] = await imports_of(session, spec, logs)
                memory[spec.name] = await traced(session, spec, work, logs)
    wall_s = time.perf_counter() - started
    return Results(starts, loaded, filled, shared, imports, modules, memory, wall_s)


def mib(memory: Memory) -> str:
    """VmRSS in MiB, RssAnon in brackets."""
    return f"{memory.rss_mb:.1f} ({memory.anon_mb:.1f})"


def grown(memory: Memory, since: Memory) -> str:
    """`memory`, and its VmRSS growth since `since`, in MiB."""
    return f"{mib(memory)}, {(memory.rss - since.rss) / MB:+.1f}"


def times(value: float, base: float) -> str:
    """`value` as a multiple of `base`."""
    return f"{value / base:.2f}x"


def footprint_table(results: Results, args: argparse.Namespace) -> str:
    """The figures, serve beside bare Bolt."""
    serve, bare = results.loaded[SERVE], results.loaded[BARE]
    starts, shared, filled = results.starts, results.shared, results.audit
    previews, asks = f"{args.previews:,}", f"{args.asks:,}"
    modules = results.modules
    rows = [
        [
            "idle, SQLite",
            mib(serve.idle),
            mib(bare.idle),
            times(serve.idle.rss, bare.idle.rss),
        ],
        [
            "idle, PostgreSQL + Redis",
            mib(shared.idle),
            mib(bare.idle),
            times(shared.idle.rss, bare.idle.rss),
        ],
        [
            f"start to healthy, s: median of {args.rounds} (least-most)",
            starts.cells(SERVE),
            starts.cells(BARE),
            times(starts.median(SERVE), starts.median(BARE)),
        ],
        ["first start, migrating: SQLite, s", fixed(starts.migrating_s), "", ""],
        [
            "first start, migrating, then a second: PostgreSQL + Redis, s",
            f"{shared.migrating_s:.2f}, {shared.start_s:.2f}",
            "",
            "",
        ],
        [
            f"after {previews} asks for new flows (cached previews), growth over idle",
            grown(serve.after_previews, serve.idle),
            grown(bare.after_previews, bare.idle),
            "",
        ],
        [
            f"after {asks} asks for new flows, growth since {previews}",
            grown(serve.after_asks, serve.after_previews),
            grown(bare.after_asks, bare.after_previews),
            "",
        ],
        [
            f"audit queue at its bound ({filled.bound:,} records waiting), growth",
            grown(filled.full, filled.before),
            "",
            "",
        ],
        [
            "modules loaded once healthy",
            f"{modules[SERVE]:,}",
            f"{modules[BARE]:,}",
            times(modules[SERVE], modules[BARE]),
        ],
    ]
    return markdown_table(
        f"figure (memory: VmRSS MiB, RssAnon in brackets) | {SERVE} | {BARE} | serve / bare Bolt",
        rows,
        "lrrr",
    )


def asks_table(results: Results) -> str:
    """Every part's asks, serve's then bare Bolt's."""
    runs = [*results.loaded[SERVE].runs, results.audit.run, *results.loaded[BARE].runs]
    return markdown_table(
        "server | part | asks | answered | errors | asks/s | p50 ms | p99 ms",
        [run.cells() for run in runs],
        "llrrrrrr",
    )


def side_by_side(left: list[list[str]], right: list[list[str]], width: int) -> list[list[str]]:
    """Rows of two rankings beside each other, numbered; the shorter padded with blanks."""
    blank = [""] * width
    pairs = itertools.zip_longest(left, right, fillvalue=blank)
    return [[str(rank), *a, *b] for rank, (a, b) in enumerate(pairs, 1)]


def imports_table(results: Results) -> str:
    """The packages whose imports took longest, serve's beside bare Bolt's."""

    def cells(name: str) -> list[list[str]]:
        return [
            [
                found.package,
                f"{found.modules:,}",
                f"{found.self_us / 1000:.0f}",
                f"{found.cumulative_us / 1000:.0f}",
            ]
            for found in results.imports[name][:IMPORTS_TOP]
        ]

    columns = "package | modules | self ms | cumulative ms"
    return markdown_table(
        f"rank | {SERVE}: {columns} | {BARE}: {columns}",
        side_by_side(cells(SERVE), cells(BARE), 4),
        "rlrrrlrrr",
    )


def traced_table(results: Results) -> str:
    """The packages holding most memory at idle, serve's beside bare Bolt's."""

    def cells(name: str) -> list[list[str]]:
        return [[p.package, f"{p.bytes / MB:.1f}"] for p in results.traced[name].packages]

    def total(name: str) -> list[str]:
        return ["all traced", f"{results.traced[name].traced_bytes / MB:.1f}"]

    return markdown_table(
        f"rank | {SERVE}: package | MiB | {BARE}: package | MiB",
        [*side_by_side(cells(SERVE), cells(BARE), 2), ["", *total(SERVE), *total(BARE)]],
        "rlrlr",
    )


def answered(results: Results) -> tuple[int, int]:
    """Asks rightly answered, and asks sent, over every part."""
    runs = [*results.loaded[SERVE].runs, results.audit.run, *results.loaded[BARE].runs]
    return sum(run.ok for run in runs), sum(run.count for run in runs)


def targets(results: Results, args: argparse.Namespace) -> list[Target]:
    """The issue's targets, each against bare Bolt in the same run or serve's own idle."""
    serve, bare, shared = results.loaded[SERVE], results.loaded[BARE], results.shared
    starts = results.starts
    growth_mib = (serve.after_previews.rss - serve.idle.rss) / MB
    flat = (serve.after_asks.rss / serve.after_previews.rss - 1) * 100
    ok, sent = answered(results)
    return [
        target(
            "idle RSS, SQLite, over bare Bolt's", serve.idle.rss / bare.idle.rss, "<=", 1.3, "x"
        ),
        target(
            "idle RSS, PostgreSQL + Redis, over bare Bolt's",
            shared.idle.rss / bare.idle.rss,
            "<=",
            SHARED_IDLE_TARGET,
            "x",
        ),
        target(
            "start to healthy (median) over bare Bolt's",
            starts.median(SERVE) / starts.median(BARE),
            "<=",
            START_TARGET,
            "x",
        ),
        target(
            f"RSS growth over idle after {args.previews:,} cached previews",
            growth_mib,
            "<=",
            PREVIEWS_TARGET_MIB,
            " MiB",
        ),
        target(
            f"RSS growth from {args.previews:,} to {args.asks:,} asks",
            flat,
            "<=",
            FLAT_TARGET_PERCENT,
            "%",
        ),
        Target(
            "every ask answered (serve's with its preview link)", f"{ok:,}/{sent:,}", ok == sent
        ),
    ]


def render(results: Results, args: argparse.Namespace) -> str:
    """The report: the figures, the asks, imports and tracemalloc, the targets, the method."""
    filled = results.audit
    if filled.earlier:
        said = "; ".join(f"`{line}`" for line in filled.earlier)
        dropped = (
            f"WARNING: before the lock was taken, serve's log already said {said} (it tells "
            "of further drops a minute later at most)"
        )
    elif filled.dropped_line:
        dropped = f"serve logged the drops: `{filled.dropped_line}`"
    else:
        dropped = "serve logged no dropped audit record"
    lines = [
        "## Footprint",
        footprint_table(results, args),
        "## Asks",
        asks_table(results),
        f"With SQLite locked, {filled.run.count:,} asks for cached flows: {dropped}.",
        f"## Imports, once healthy (-X importtime, one run each; top {IMPORTS_TOP} packages by "
        "cumulative time)",
        imports_table(results),
        f"## Memory at idle by package (tracemalloc, one run each; top {TRACE_TOP})",
        traced_table(results),
        "## Targets",
        targets_table(targets(results, args)),
        method(args, results.wall_s),
    ]
    lines += [
        f"ERRORS {run.server} {run.part}: {len(run.errors):,} of {run.count:,}; first: "
        f"{run.errors[0]}"
        for run in [*results.loaded[SERVE].runs, filled.run, *results.loaded[BARE].runs]
        if run.errors
    ]
    return "\n\n".join(lines)


def method(args: argparse.Namespace, wall_s: float) -> str:
    """How the figures were taken, in a few sentences."""
    return (
        "Method: VmRSS and RssAnon from /proc/<pid>/status of each Python process, read "
        f"{SETTLE_S:g} s after its last request and a gc.collect() in it (both load the "
        "bench/footprint_probe sitecustomize for that). Starts: from spawn to the first /healthz "
        "200 with status ok, polled every 10 ms; serve's SQLite file migrated beforehand. Asks: "
        f"signed `/flowpreview <flow id>` over HTTP, {args.concurrency} at a time, every flow "
        f"ID new; serve at CAMS_QPS={args.qps}, the emulator unthrottled (--qps 0); serve's "
        "acks must hold the flow's preview link. The audit queue: the benchmark holds SQLite's "
        "write lock (BEGIN IMMEDIATE) and asks for cached flows. Imports: every `import time:` "
        "line but the header, read once healthy; a package's cumulative time adds up its "
        "imports from outside it. tracemalloc: 64 frames, each allocation charged to its "
        "innermost frame outside the standard library and the import machinery (a module's code "
        f"to what imported it). Measured in {wall_s:.0f} s."
    )


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 on a miss or a wrong answer."""
    cli = parser(__doc__, "bench.bench_footprint")
    cli.add_argument("--rounds", type=positive_int, default=5, help="timed starts of each")
    cli.add_argument(
        "--previews",
        type=positive_int,
        default=CACHE_SIZE,
        help=f"asks before the first reading, and serve's CAMS_CACHE_SIZE (default {CACHE_SIZE:,})",
    )
    cli.add_argument("--asks", type=positive_int, default=60_000, help="asks in all, each new")
    cli.add_argument("--concurrency", type=positive_int, default=DEFAULT_CONCURRENCY)
    cli.add_argument("--qps", type=positive_int, default=DEFAULT_QPS, help="serve's CAMS_QPS")
    cli.add_argument("--logs", type=Path, metavar="DIR", help="keep the servers' stderr here")
    args = cli.parse_args()
    if args.asks < args.previews:
        cli.error("--asks must be at least --previews")
    results = measured(run(args))
    ok = all(t.met for t in targets(results, args))
    return finish(args, __doc__, render(results, args), results, ok, *DISTRIBUTIONS)


if __name__ == "__main__":
    sys.exit(main())
