"""One replica for bench.bench_replicas: a PreviewService that asks for a range of flows on cue.

Started by bench_replicas, one process per replica, so that every replica has an event loop,
an aiohttp session and a Redis connection pool of its own, as in production::

    python -m bench.replica_worker --name NAME --flows FIRST COUNT [--warmup FIRST COUNT]
                                   [--one-at-a-time] [--passes N] [--layer service|client]

The service is configured from the environment exactly as `python -m bot serve` configures
it (PreviewService.from_env): CAMS_ENDPOINT, ALIBABA_CLOUD_*, CAMS_QPS, CAMS_MAX_WAIT_S,
CAMS_DEADLINE_S, CAMS_MAX_ATTEMPTS, REDIS_URL, CAMS_REPLICAS.

Flow IDs are FIRST, FIRST+1, ... The layer is what each ask goes through: `service` is
PreviewService.get (caches, then the limited client), `client` the service's CamsClient
alone (no caches, but the same limiter in front of every call).

On stdout: the line `ready` once the service is built and the warm-up asks (unmeasured, one
at a time) are answered; then, after a line on stdin, the asks of every pass (all at once, or
one at a time), and one line of JSON: {"go_at": time.monotonic() when told to go, "passes":
[Asks.to_json() of each pass]}. The exit status is 1 when stdin closes before the cue.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Sequence

from bench.support import Ask, ask_all, positive_int
from bot.preview.service import PreviewService

READY = "ready"


def flow_ids(first: int, count: int) -> list[str]:
    """`count` consecutive flow IDs from `first`."""
    return [str(first + index) for index in range(count)]


async def run(args: argparse.Namespace) -> int:
    """Build the service, warm up, signal ready, wait for the cue, ask, print the tallies."""
    async with PreviewService.from_env(dict(os.environ)) as service:
        ask: Ask = service.get if args.layer == "service" else service.client.get_flow_preview_url
        if args.warmup is not None:
            await ask_all(ask, flow_ids(*args.warmup), one_at_a_time=True)
        print(READY, flush=True)
        # A thread, since asyncio cannot read a pipe on stdin portably; it wakes within
        # microseconds of the cue, which is what keeps the replicas' starts together.
        if not await asyncio.to_thread(sys.stdin.readline):
            return 1
        go_at = time.monotonic()
        asked = flow_ids(*args.flows)
        passes = [
            await ask_all(ask, asked, one_at_a_time=args.one_at_a_time) for _ in range(args.passes)
        ]
    print(json.dumps({"go_at": go_at, "passes": [p.to_json() for p in passes]}), flush=True)
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.replica_worker",
        description="One replica of bench.bench_replicas, configured from the environment.",
    )
    parser.add_argument("--name", default="replica", help="how its log lines are labelled")
    parser.add_argument(
        "--flows",
        type=positive_int,
        nargs=2,
        required=True,
        metavar=("FIRST", "COUNT"),
        help="the flows asked for on cue",
    )
    parser.add_argument(
        "--warmup",
        type=positive_int,
        nargs=2,
        metavar=("FIRST", "COUNT"),
        help="flows asked for one at a time before signalling ready (default: none)",
    )
    parser.add_argument(
        "--one-at-a-time", action="store_true", help="ask one after another (default: all at once)"
    )
    parser.add_argument(
        "--passes", type=positive_int, default=1, help="times the flows are asked (default 1)"
    )
    parser.add_argument("--layer", choices=("service", "client"), default="service")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one replica; its warnings (a Redis outage, say) go to stderr under its name."""
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        format=f"{args.name}: %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
