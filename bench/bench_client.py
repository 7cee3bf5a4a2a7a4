"""flowpreview's CamsClient beside the official CAMS SDK (async), both calling the emulator.

Over https (a throwaway CA) and plain http, sequential and N workers; CPU is this process's, the
emulator being one of its own. Targets: >= 5x the SDK's calls/s at <= 1/5 of its CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from bench.common import (
    HOST,
    CpuMeter,
    finish,
    markdown_table,
    measured,
    parser,
    positive_int,
    progress,
    verdict,
)
from bot.cams.client import CamsClient
from bot.cams.settings import CamsSettings
from bot.config import Endpoint
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.processes import EmulatorControl, TlsFiles, controlled_emulator

SDK_DISTRIBUTIONS = ("alibabacloud-cams20200606", "alibabacloud-tea-openapi", "darabonba-core")
# Both are "flowpreview is at least this many times better": calls/s ours/SDK, CPU SDK/ours.
THROUGHPUT_TARGET = 5.0
CPU_TARGET = 5.0
# The SDK's https calls cost about 20 ms of CPU each: these keep a run near 30 s on two cores.
DEFAULT_SDK_CALLS = {"https": 500, "http": 2000}
TRANSPORTS = {
    "https": "## HTTPS (headline: CAMS is https only)\n\nOurs keeps keep-alive connections; "
    "the SDK opens a session, builds an SSL context and shakes hands on every call.",
    "http": "## Plain http on loopback (secondary: what is left without TLS)",
}

Call = Callable[[str], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Measurement:
    """One client in one scenario: calls made, calls that failed, and what they cost."""

    calls: int
    failures: int
    wall_s: float
    cpu_s: float
    server_ok: int
    first_error: str | None

    @property
    def calls_per_s(self) -> float:
        """Calls per second of wall clock."""
        return self.calls / self.wall_s

    @property
    def cpu_ms_per_call(self) -> float:
        """Milliseconds of this process's CPU time per call."""
        return self.cpu_s * 1000 / self.calls

    @property
    def verified(self) -> bool:
        """Every call succeeded, and the emulator answered exactly that many with a preview."""
        return self.failures == 0 and self.server_ok == self.calls


@dataclass(frozen=True, slots=True)
class Comparison:
    """Both clients in the same scenario over the same transport of the same run."""

    transport: str
    scenario: str
    ours: Measurement
    sdk: Measurement

    @property
    def throughput_ratio(self) -> float:
        """flowpreview calls/s over the SDK's."""
        return self.ours.calls_per_s / self.sdk.calls_per_s

    @property
    def cpu_ratio(self) -> float:
        """The SDK's CPU per call over flowpreview's."""
        return self.sdk.cpu_ms_per_call / self.ours.cpu_ms_per_call

    @property
    def verdict(self) -> str:
        """FAILED when any call failed, else PASS or MISS naming the targets not met."""
        sides = (("flowpreview", self.ours), ("SDK", self.sdk))
        if failed := [name for name, m in sides if not m.verified]:
            return f"FAILED ({', '.join(failed)})"
        missed = [
            name
            for name, ratio, target in (
                ("throughput", self.throughput_ratio, THROUGHPUT_TARGET),
                ("CPU", self.cpu_ratio, CPU_TARGET),
            )
            if ratio < target
        ]
        return verdict(not missed) + (f" ({', '.join(missed)})" if missed else "")


async def run_calls(call: Call, calls: int, concurrency: int) -> tuple[int, str | None]:
    """Make `calls` calls from `concurrency` workers sharing `call`; count the failures."""
    # One shared iterator hands each flow ID to exactly one worker.
    flow_ids = iter([str(100_000 + index) for index in range(calls)])
    errors: list[str] = []

    async def worker() -> None:
        for flow_id in flow_ids:
            try:
                await call(flow_id)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}")

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return len(errors), errors[0] if errors else None


async def measure(
    emulator: EmulatorControl, call: Call, calls: int, concurrency: int, warmup: int
) -> Measurement:
    """Warm up, then time `calls` calls: wall clock, and this process's CPU time."""
    await run_calls(call, warmup, concurrency)
    # Counting previews since a reset checks that every measured call really got one.
    await emulator.reset()
    meter = CpuMeter()
    failures, first_error = await run_calls(call, calls, concurrency)
    cpu = meter.stop()
    server_ok = (await emulator.stats()).counts.get("OK", 0)
    return Measurement(calls, failures, cpu.wall_s, cpu.this_s, server_ok, first_error)


def sdk_call(client: Client, runtime: RuntimeOptions) -> Call:
    """One GetFlowPreviewUrl through the SDK's async API, raising unless it yields a preview."""

    async def call(flow_id: str) -> object:
        response = await client.get_flow_preview_url_with_options_async(
            models.GetFlowPreviewUrlRequest(flow_id=flow_id, cust_space_id=None), runtime
        )
        body = response.body
        if body.code != "OK" or not body.data.preview_url:
            raise RuntimeError(f"SDK answer {body.code}: {body.message}")
        return body.data

    return call


async def benchmark(
    transport: str, tls: TlsFiles | None, args: argparse.Namespace
) -> list[Comparison]:
    """Measure both clients in both scenarios against an emulator serving `transport`."""
    ca_file = None if tls is None else str(tls.ca)
    sdk_calls = args.sdk_calls or DEFAULT_SDK_CALLS[transport]
    async with controlled_emulator("--qps", "0", tls=tls) as emulator:
        sdk = Client(
            Config(
                access_key_id=DEMO_CREDENTIALS.access_key_id,
                access_key_secret=DEMO_CREDENTIALS.access_key_secret.reveal(),
                endpoint=f"{HOST}:{emulator.port}",
                protocol=transport,
            )
        )
        # The SDK's documented way to trust a private CA (still a new SSL context per call).
        sdk_get = sdk_call(sdk, RuntimeOptions(ca=ca_file))
        settings = CamsSettings(Endpoint.parse(emulator.url), ca_file=ca_file)
        comparisons = []
        scenarios = {"sequential": 1, f"{args.concurrency}-concurrent": args.concurrency}
        async with CamsClient(DEMO_CREDENTIALS, settings) as client:
            ours = client.get_flow_preview_url
            for scenario, concurrency in scenarios.items():
                progress(f"measuring {transport} {scenario} ...")
                ours_m = await measure(emulator, ours, args.calls, concurrency, args.warmup)
                sdk_m = await measure(emulator, sdk_get, sdk_calls, concurrency, args.warmup)
                comparisons.append(Comparison(transport, scenario, ours_m, sdk_m))
    return comparisons


def render(comparisons: Sequence[Comparison], args: argparse.Namespace) -> str:
    """The report: versions, settings, targets, and one table per transport."""
    sdk_calls = " and ".join(
        f"{args.sdk_calls or DEFAULT_SDK_CALLS[t]} over {t}" for t in TRANSPORTS
    )
    lines = [
        f"Calls per scenario: flowpreview {args.calls}, SDK {sdk_calls}, each after "
        f"{args.warmup} warm-up calls. CPU: this process's only. Targets: flowpreview >= "
        f"{THROUGHPUT_TARGET:g}x the SDK's calls/s and <= 1/{CPU_TARGET:g} of its CPU per call.",
    ]
    for transport, heading in TRANSPORTS.items():
        rows = [
            f"{c.scenario} | {c.ours.calls_per_s:,.0f} | {c.sdk.calls_per_s:,.0f} | "
            f"{c.throughput_ratio:.1f}x | {c.ours.cpu_ms_per_call:.3f} | "
            f"{c.sdk.cpu_ms_per_call:.3f} | {c.cpu_ratio:.1f}x | {c.verdict}"
            for c in comparisons
            if c.transport == transport
        ]
        headers = (
            "scenario | flowpreview calls/s | SDK calls/s | throughput ratio | flowpreview CPU "
            "ms/call | SDK CPU ms/call | CPU ratio (SDK/ours) | target"
        )
        lines += [heading, markdown_table(headers, rows, "lrrrrrrl")]
    for c in comparisons:
        for name, m in (("flowpreview", c.ours), ("SDK", c.sdk)):
            if not m.verified:
                lines.append(
                    f"FAILED {c.transport} {c.scenario} {name}: {m.failures} of {m.calls} calls "
                    f"failed, emulator answered {m.server_ok} OK; first error: {m.first_error}"
                )
    return "\n\n".join(lines)


async def run(args: argparse.Namespace) -> list[Comparison]:
    """Every transport asked for, https first, each against an emulator of its own."""
    comparisons = []
    with tempfile.TemporaryDirectory(prefix="flowpreview-bench-") as directory:
        for transport in TRANSPORTS:
            tls = TlsFiles.create(Path(directory)) if transport == "https" else None
            comparisons += await benchmark(transport, tls, args)
    return comparisons


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 when any call failed."""
    cli = parser(__doc__, "bench.bench_client")
    cli.add_argument("--calls", type=positive_int, default=2000, help="flowpreview's per scenario")
    cli.add_argument("--sdk-calls", type=positive_int, help="default: 500 over https, 2000 http")
    cli.add_argument("--concurrency", type=positive_int, default=20, help="concurrent workers")
    cli.add_argument("--warmup", type=positive_int, default=20, help="calls before measuring")
    args = cli.parse_args()
    comparisons = measured(run(args))
    ok = all(c.ours.verified and c.sdk.verified for c in comparisons)
    return finish(args, __doc__, render(comparisons, args), comparisons, ok, *SDK_DISTRIBUTIONS)


if __name__ == "__main__":
    sys.exit(main())
