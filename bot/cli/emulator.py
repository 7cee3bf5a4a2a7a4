"""`python -m bot emulator`: run the local CAMS stand-in."""

from __future__ import annotations

import argparse
import ssl
import sys
from typing import Any

from aiohttp import web

from bot.cams.credentials import ACCESS_KEY_ID, Credentials
from bot.config import ConfigError, env_str
from bot.standin.cams.catalog import MAX_FLOWS, SeededFlow, catalog_of_size, default_catalog
from bot.standin.cams.faults import FaultRule
from bot.standin.cams.server import DEFAULT_LINK_TTL_S, DEMO_CREDENTIALS, Emulator
from bot.standin.cams.statuses import (
    AmbiguousFlowError,
    InvalidStatusError,
    StatusChange,
    StatusSchedule,
    UnknownFlowError,
)

MAX_PORT = 65535
MAX_LINK_TTL_S = 100 * 365 * 86400


def add_parser(commands: Any, summary: str) -> None:
    """Register `emulator` on the sub-command parser."""
    parser = commands.add_parser(
        "emulator",
        help=summary,
        description=(
            "A local CAMS endpoint answering GetFlowPreviewUrl, ListFlow and GetFlow. It accepts "
            "the AccessKey in ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET (and SECURITY_TOKEN), or the "
            "demo key when unset."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument(
        "--qps",
        type=int,
        default=5,
        help="calls per second per account and action; 0 turns throttling off",
    )
    parser.add_argument(
        "--link-ttl",
        type=float,
        default=DEFAULT_LINK_TTL_S,
        metavar="SECONDS",
        help="how long issued preview links live (default: 30 days)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="RULE",
        help=(
            "FAULT@TARGET[*COUNT], e.g. latency:8@flow:123, drop@rate:0.1 or "
            "http:500@action:ListFlow+page:3*1 (see docs/emulator.md)"
        ),
    )
    parser.add_argument(
        "--catalog-size",
        type=int,
        metavar="N",
        help=(
            "serve N flows in space cams-demo (cams-acme keeps its 20) instead of the default "
            "catalog of about 60"
        ),
    )
    parser.add_argument(
        "--status-change",
        action="append",
        default=[],
        metavar="FLOW_ID=STATUS@SECONDS",
        help=(
            "SECONDS after start, GetFlow reports STATUS for the flow (any text, e.g. BLOCKED; "
            "`removed` makes it disappear); repeatable (see docs/emulator.md)"
        ),
    )
    parser.add_argument("--seed", type=int, help="seed for rate-based faults")
    parser.add_argument("--tls-cert", metavar="PEM", help="serve https with this certificate chain")
    parser.add_argument("--tls-key", metavar="PEM", help="the private key of --tls-cert")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Serve until interrupted."""
    credentials = Credentials.from_env(env) if env_str(env, ACCESS_KEY_ID) else DEMO_CREDENTIALS
    try:
        rules = [FaultRule.parse(text) for text in args.fault]
    except ValueError as exc:
        raise ConfigError("--fault", str(exc)) from None
    _check_numbers(args)
    catalog = _catalog(args.catalog_size)
    emulator = Emulator(
        [credentials],
        qps=args.qps,
        link_ttl=args.link_ttl,
        rules=rules,
        catalog=catalog,
        seed=args.seed,
    )
    schedule = _schedule(args.status_change, emulator)
    app = emulator.app()
    if schedule.pending:
        app.cleanup_ctx.append(schedule.background)
    spaces = ", ".join(f"{space} ({len(flows)} flows)" for space, flows in catalog.items())
    print(
        f"CAMS emulator on {'https' if args.tls_cert else 'http'}://{args.host}:{args.port} "
        f"for AccessKey "
        f"{credentials.access_key_id}, {args.qps or 'unlimited'} calls/s per account and action, "
        f"spaces {spaces}",
        file=sys.stderr,
        flush=True,
    )
    try:
        web.run_app(
            app,
            host=args.host,
            port=args.port,
            ssl_context=_tls_context(args.tls_cert, args.tls_key),
            print=None,
            access_log=None,
        )
    except OSError as exc:
        raise ConfigError(
            "--port", f"cannot listen on {args.host}:{args.port}: {exc.strerror}"
        ) from None
    return 0


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse, naming the option, numbers that would only fail later with a traceback."""
    if not 0 <= args.port <= MAX_PORT:
        raise ConfigError("--port", f"must be 0-{MAX_PORT}, got {args.port}")
    if args.qps < 0:
        raise ConfigError("--qps", f"must be 0 (no throttling) or more, got {args.qps}")
    # A negative TTL issues links already expired; one that is not finite, or so long that
    # the expiry has no date, would fail every request.
    if not abs(args.link_ttl) <= MAX_LINK_TTL_S:
        raise ConfigError(
            "--link-ttl",
            f"must be at most {MAX_LINK_TTL_S:,} seconds (100 years) either way, "
            f"got {args.link_ttl:g}",
        )


def _schedule(texts: list[str], emulator: Emulator) -> StatusSchedule:
    """The `--status-change` entries as a schedule, each checked against the catalog served."""
    changes = []
    for text in texts:
        try:
            change = StatusChange.parse(text)
            emulator.flow_state(change.flow_id)
        except (InvalidStatusError, UnknownFlowError, AmbiguousFlowError) as exc:
            raise ConfigError("--status-change", str(exc)) from None
        changes.append(change)
    return StatusSchedule(changes, emulator, announce=_announce)


def _announce(change: StatusChange) -> None:
    # The person trying the demo watches this terminal to see when the bot should notice.
    now = "removed" if change.status is None else f"now {change.status}"
    print(f"status change: flow {change.flow_id} is {now}", file=sys.stderr, flush=True)


def _catalog(size: int | None) -> dict[str, list[SeededFlow]]:
    if size is None:
        return default_catalog()
    if not 0 <= size <= MAX_FLOWS:
        raise ConfigError("--catalog-size", f"must be between 0 and {MAX_FLOWS}, not {size}")
    return catalog_of_size(size)


def _tls_context(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    if cert is None:
        if key is not None:
            raise ConfigError("--tls-key", "needs --tls-cert")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError("--tls-cert", f"cannot load the certificate: {exc}") from None
    return context
