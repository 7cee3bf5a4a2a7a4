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
from bot.store.settings import MAX_RETENTION_DAYS, StoreSettings

DEFAULT_LIMIT = 100
# Every record is read into memory before it is printed; --since narrows a longer trail.
MAX_LIMIT = 1_000_000
# The longest retention: nothing older is kept. A longer span could reach before year 1.
MAX_SPAN = timedelta(days=MAX_RETENTION_DAYS)
_SPAN = re.compile(r"([0-9]{1,6})([mhd])")
_WHOLE = re.compile(r"[0-9]{1,20}")
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


def add_parser(commands: Any, summary: str) -> None:
    """Register `audit` on the sub-command parser."""
    parser = commands.add_parser(
        "audit",
        help=summary,
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
        type=_limit,
        default=DEFAULT_LIMIT,
        help=f"at most N records (default {DEFAULT_LIMIT}, at most {MAX_LIMIT:,})",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(run=run, log_default="WARNING")


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 with the records (none is fine), 1 when the database cannot be read."""
    settings = StoreSettings.from_env(env)
    since = datetime.now(UTC) - args.since if isinstance(args.since, timedelta) else args.since
    records = read(
        settings,
        lambda database: AuditTrail(database).query(
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
    """--since: a span back from now, or an aware UTC time."""
    span = _SPAN.fullmatch(text.strip())
    if span is not None:
        back = timedelta(**{_UNITS[span[2]]: int(span[1])})
        if back > MAX_SPAN:
            raise argparse.ArgumentTypeError(
                f"expected a span of at most {MAX_SPAN.days}d (the longest retention), got {text!r}"
            )
        return back
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO date or time (2026-01-31, 2026-01-31T09:30Z) or a span "
            f"(30m, 12h, 7d), got {text!r}"
        ) from None
    try:
        # The database compares in UTC; a time whose UTC falls outside years 1-9999 has none.
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:
        raise argparse.ArgumentTypeError(
            f"expected a time between years 1 and 9999 in UTC, got {text!r}"
        ) from None


def _limit(text: str) -> int:
    """--limit: a whole number from 1 to MAX_LIMIT, in ASCII digits."""
    if not _WHOLE.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(
            f"expected a whole number from 1 to {MAX_LIMIT:,}, got {text!r}"
        )
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
