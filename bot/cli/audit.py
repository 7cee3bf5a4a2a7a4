"""`python -m bot audit`: who was given which preview, newest first."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.cli.reading import read
from bot.cli.table import cell, table
from bot.store.audit import AuditRecord, AuditTrail
from bot.store.settings import StoreSettings

DEFAULT_LIMIT = 100
_SPAN = re.compile(r"([0-9]{1,6})([mhd])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_COLUMNS = (
    "time (UTC)",
    "outcome",
    "team",
    "channel",
    "user",
    "flow",
    "space",
    "request id",
    "reason",
)


def add_parser(commands: Any) -> None:
    """Register `audit` on the sub-command parser."""
    parser = commands.add_parser(
        "audit",
        help="print the audit trail: who was given which preview",
        description=(
            "Print audit records from the database named by DATABASE_URL (or DATABASE_PATH), "
            "newest first."
        ),
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        type=_when,
        help="an ISO date or time (UTC unless it says otherwise), or a span back: 30m, 12h, 7d",
    )
    parser.add_argument("--user", metavar="U", help="only this Slack user ID")
    parser.add_argument("--flow", metavar="F", help="only this flow ID")
    parser.add_argument(
        "--limit",
        metavar="N",
        type=_positive,
        default=DEFAULT_LIMIT,
        help=f"at most N records (default {DEFAULT_LIMIT})",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(run=run, log_default="WARNING")


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 with the records (none is fine), 1 when the database cannot be read."""
    settings = StoreSettings.from_env(env)
    since = datetime.now(UTC) - args.since if isinstance(args.since, timedelta) else args.since
    records = read(
        settings,
        lambda engine: AuditTrail(engine).query(
            since=since, user=args.user, flow=args.flow, limit=args.limit
        ),
    )
    if records is None:
        return 1
    if args.json:
        for record in records:
            print(json.dumps(_as_json(record)))
    elif records:
        print(_table(records))
    if len(records) == args.limit:
        print(f"(the newest {args.limit}; --limit N for more)", file=sys.stderr)
    return 0


def _when(text: str) -> datetime | timedelta:
    span = _SPAN.fullmatch(text.strip())
    if span is not None:
        return timedelta(**{_UNITS[span[2]]: int(span[1])})
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time (2026-01-31, 2026-01-31T09:30Z) or a span "
            f"(30m, 12h, 7d), got {text!r}"
        ) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _as_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "at": record.at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "outcome": record.outcome.value,
        "team_id": record.team_id,
        "channel_id": record.channel_id,
        "user_id": record.user_id,
        "flow_id": record.flow_id,
        "space_id": record.space_id,
        "reason": record.reason,
        "request_id": record.request_id,
    }


def _table(records: list[AuditRecord]) -> str:
    return table(
        _COLUMNS,
        [
            (
                f"{record.at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
                record.outcome.value,
                *map(
                    cell,
                    (
                        record.team_id,
                        record.channel_id,
                        record.user_id,
                        record.flow_id,
                        record.space_id,
                        record.request_id,
                        record.reason,
                    ),
                ),
            )
            for record in records
        ],
    )
