"""Benchmark flowpreview's CamsClient against the official CAMS SDK, both calling the emulator.

Run from the project root::

    python -m bench.bench_client [--transport https|http|both] [--calls N] [--sdk-calls N]
                                 [--concurrency N] [--warmup N] [--json PATH]

CAMS is only reachable over https, so https is the headline: the emulator serves it with a
throwaway CA that both clients are told to trust. Our client keeps one session with keep-alive
connections; the SDK's async call opens a new session, builds a new SSL context and shakes
hands on every call, which is what it does in production. Plain http on loopback is kept as a
secondary table to show what is left once TLS is out of the picture.

The emulator runs as a separate process with throttling off, so the CPU figures (process time
of this process divided by calls) are the client's cost alone. Each client is measured in two
scenarios, one call after another and N workers sharing one client, and the results are printed
side by side as markdown tables against the targets: flowpreview at least 5x the SDK's calls/s
and at most 1/5 of its CPU per call. The exit status is 1 when any call failed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

from bench.support import (
    HOST,
    EmulatorControl,
    TlsFiles,
    describe_machine,
    machine,
    markdown_table,
    positive_int,
    progress,
    running_emulator,
    verdict,
    write_json,
)
from bot.cams.client import CamsClient
from bot.cams.settings import CamsSettings
from bot.config import Endpoint
from bot.standin.cams.server import DEMO_CREDENTIALS

SDK_DISTRIBUTIONS = ("alibabacloud-cams20200606", "alibabacloud-tea-openapi", "darabonba-core")
# Both are "flowpreview is at least this many times better": calls/s ours/SDK, CPU SDK/ours.
THROUGHPUT_TARGET = 5.0
CPU_TARGET = 5.0
TRANSPORTS = ("https", "http")
# The SDK's https calls cost about 20 ms of CPU each, so it gets fewer of them than over
# http; these counts keep a run of both transports near 30 s on two cores.
DEFAULT_SDK_CALLS = {"https": 500, "http": 2000}

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

    def to_json(self) -> dict[str, Any]:
        """The raw figures and the derived rates."""
        return {
            "calls": self.calls,
            "failures": self.failures,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "server_ok": self.server_ok,
            "first_error": self.first_error,
            "calls_per_s": self.calls_per_s,
            "cpu_ms_per_call": self.cpu_ms_per_call,
            "verified": self.verified,
        }


@dataclass(frozen=True, slots=True)
class Comparison:
    """Both clients in the same scenario over the same transport of the same run."""

    transport: str
    scenario: str
    concurrency: int
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
        failed = [
            name for name, m in (("flowpreview", self.ours), ("SDK", self.sdk)) if not m.verified
        ]
        if failed:
            return f"FAILED ({', '.join(failed)})"
        missed = []
        if self.throughput_ratio < THROUGHPUT_TARGET:
            missed.append("throughput")
        if self.cpu_ratio < CPU_TARGET:
            missed.append("CPU")
        return verdict(not missed) + (f" ({', '.join(missed)})" if missed else "")

    def to_json(self) -> dict[str, Any]:
        """The raw figures of both clients, the ratios and the verdict."""
        return {
            "transport": self.transport,
            "scenario": self.scenario,
            "concurrency": self.concurrency,
            "flowpreview": self.ours.to_json(),
            "sdk": self.sdk.to_json(),
            "throughput_ratio": self.throughput_ratio,
            "cpu_ratio": self.cpu_ratio,
            "verdict": self.verdict,
        }


async def run_calls(call: Call, calls: int, concurrency: int) -> tuple[int, str | None]:
    """Make `calls` calls from `concurrency` workers sharing `call`; count the failures."""
    flow_ids = iter([str(100_000 + index) for index in range(calls)])
    failures = 0
    first_error: str | None = None

    async def worker() -> None:
        nonlocal failures, first_error
        # One shared iterator hands each flow ID to exactly one worker.
        for flow_id in flow_ids:
            try:
                await call(flow_id)
            except Exception as exc:
                failures += 1
                first_error = first_error or f"{type(exc).__name__}: {exc}"

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return failures, first_error


async def measure(
    emulator: EmulatorControl, call: Call, calls: int, concurrency: int, warmup: int
) -> Measurement:
    """Warm up, then time `calls` calls: wall clock, and this process's CPU time."""
    await run_calls(call, warmup, concurrency)
    # Counting previews since a reset checks that every measured call really got one.
    await emulator.reset()
    wall_start = time.perf_counter()
    cpu_start = time.process_time()
    failures, first_error = await run_calls(call, calls, concurrency)
    cpu_s = time.process_time() - cpu_start
    wall_s = time.perf_counter() - wall_start
    stats = await emulator.stats()
    return Measurement(
        calls=calls,
        failures=failures,
        wall_s=wall_s,
        cpu_s=cpu_s,
        server_ok=stats.counts.get("OK", 0),
        first_error=first_error,
    )


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
    async with running_emulator(qps=0, tls=tls) as emulator:
        sdk = Client(
            Config(
                access_key_id=DEMO_CREDENTIALS.access_key_id,
                access_key_secret=DEMO_CREDENTIALS.access_key_secret.reveal(),
                endpoint=f"{HOST}:{emulator.port}",
                protocol=transport,
            )
        )
        # The SDK's documented way to trust a private CA; it still builds a fresh SSL
        # context from it on every call.
        sdk_get = sdk_call(sdk, RuntimeOptions(ca=ca_file))
        settings = CamsSettings(Endpoint.parse(emulator.base_url), ca_file=ca_file)
        comparisons = []
        async with CamsClient(DEMO_CREDENTIALS, settings) as ours:
            for scenario, concurrency in (
                ("sequential", 1),
                (f"{args.concurrency}-concurrent", args.concurrency),
            ):
                progress(f"measuring {transport} {scenario} ...")
                ours_m = await measure(
                    emulator, ours.get_flow_preview_url, args.calls, concurrency, args.warmup
                )
                sdk_m = await measure(emulator, sdk_get, sdk_calls, concurrency, args.warmup)
                comparisons.append(Comparison(transport, scenario, concurrency, ours_m, sdk_m))
    return comparisons


def render_table(comparisons: Sequence[Comparison]) -> str:
    """The markdown table of one transport's comparisons."""
    return markdown_table(
        [
            "scenario",
            "flowpreview calls/s",
            "SDK calls/s",
            "throughput ratio",
            "flowpreview CPU ms/call",
            "SDK CPU ms/call",
            "CPU ratio (SDK/ours)",
            "target",
        ],
        [
            [
                c.scenario,
                f"{c.ours.calls_per_s:,.0f}",
                f"{c.sdk.calls_per_s:,.0f}",
                f"{c.throughput_ratio:.1f}x",
                f"{c.ours.cpu_ms_per_call:.3f}",
                f"{c.sdk.cpu_ms_per_call:.3f}",
                f"{c.cpu_ratio:.1f}x",
                c.verdict,
            ]
            for c in comparisons
        ],
        align="lrrrrrrl",
    )


TRANSPORT_NOTES = {
    "https": (
        "## HTTPS (headline: CAMS is https only)\n\n"
        "Both clients verify the emulator's certificate against a throwaway CA (CamsSettings "
        "ca_file; SDK RuntimeOptions(ca=...)). Ours reuses keep-alive connections; the SDK opens "
        "a session, builds an SSL context and does a TLS handshake per call. Given a CA file the "
        "SDK loads the system CA store plus that file per call; in production it loads the "
        "system store plus certifi's bundle, which costs more, so its CPU here is if anything "
        "lower than in production."
    ),
    "http": (
        "## Plain http on loopback (secondary: what is left without TLS)\n\n"
        "Not a production path; shown so the https gap can be told apart from the rest."
    ),
}


def render(comparisons: Sequence[Comparison], args: argparse.Namespace) -> str:
    """The report: versions, settings, targets, and one table per transport."""
    run_transports = [t for t in TRANSPORTS if any(c.transport == t for c in comparisons)]
    sdk_calls = " and ".join(
        f"{args.sdk_calls or DEFAULT_SDK_CALLS[t]} over {t}" for t in run_transports
    )
    lines = [
        "# flowpreview CamsClient vs the official CAMS SDK (async), GetFlowPreviewUrl",
        "",
        describe_machine(*SDK_DISTRIBUTIONS),
        f"Emulator: separate process on {HOST}, throttling off. Calls per scenario: flowpreview "
        f"{args.calls}, SDK {sdk_calls}, "
        f"each after {args.warmup} warm-up calls.",
        "CPU = process time of this benchmark process only (the emulator is not counted).",
        f"Targets: flowpreview >= {THROUGHPUT_TARGET:g}x the SDK's calls/s and <= "
        f"1/{CPU_TARGET:g} of its CPU per call.",
    ]
    for transport in run_transports:
        chosen = [c for c in comparisons if c.transport == transport]
        lines += ["", TRANSPORT_NOTES[transport], "", render_table(chosen)]
    for c in comparisons:
        for name, m in (("flowpreview", c.ours), ("SDK", c.sdk)):
            if not m.verified:
                lines.append(
                    f"FAILED {c.transport} {c.scenario} {name}: {m.failures} of {m.calls} calls "
                    f"failed, emulator answered {m.server_ok} OK; first error: {m.first_error}"
                )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_client",
        description="flowpreview's CAMS client vs the official SDK against the local emulator.",
    )
    parser.add_argument(
        "--transport",
        choices=(*TRANSPORTS, "both"),
        default="both",
        help="https (the production path), plain http on loopback, or both (default)",
    )
    parser.add_argument(
        "--calls", type=positive_int, default=2000, help="flowpreview calls per scenario"
    )
    parser.add_argument(
        "--sdk-calls",
        type=positive_int,
        help=(
            "SDK calls per scenario (default: "
            + ", ".join(f"{n} over {t}" for t, n in DEFAULT_SDK_CALLS.items())
            + ")"
        ),
    )
    parser.add_argument(
        "--concurrency", type=positive_int, default=20, help="workers in the concurrent scenario"
    )
    parser.add_argument(
        "--warmup", type=positive_int, default=20, help="unmeasured calls before each measurement"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> list[Comparison]:
    """Every transport asked for, https first, each against an emulator of its own."""
    transports = TRANSPORTS if args.transport == "both" else (args.transport,)
    comparisons = []
    with tempfile.TemporaryDirectory(prefix="flowpreview-bench-") as directory:
        for transport in transports:
            tls = TlsFiles.create(Path(directory)) if transport == "https" else None
            comparisons += await benchmark(transport, tls, args)
    return comparisons


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; exit status 1 when any call failed."""
    args = parse_args(argv)
    started = time.perf_counter()
    comparisons = asyncio.run(run(args))
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print(render(comparisons, args))
    if args.json is not None:
        write_json(
            args.json,
            {
                **machine(*SDK_DISTRIBUTIONS),
                "targets": {"throughput_ratio_min": THROUGHPUT_TARGET, "cpu_ratio_min": CPU_TARGET},
                "settings": vars(args) | {"json": str(args.json)},
                "default_sdk_calls": DEFAULT_SDK_CALLS,
                "scenarios": [c.to_json() for c in comparisons],
            },
        )
    return 0 if all(c.ours.verified and c.sdk.verified for c in comparisons) else 1


if __name__ == "__main__":
    sys.exit(main())
