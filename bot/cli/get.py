"""`python -m bot get FLOW_ID …`: fetch preview links from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot.cams.models import FlowPreview
from bot.ids import is_flow_id
from bot.preview.errors import BusyError
from bot.preview.service import Failure, Outcome, PreviewService

# As for any other usage error.
EXIT_NOT_AN_ID = 2


def add_parser(commands: Any, summary: str) -> None:
    """Register `get` on the sub-command parser."""
    parser = commands.add_parser(
        "get",
        help=summary,
        description="Fetch WhatsApp Flow preview links through CAMS GetFlowPreviewUrl.",
    )
    parser.add_argument("flow_ids", nargs="+", metavar="FLOW_ID", help="10 to 20 digits")
    parser.add_argument("--space", help="CustSpaceId (default: CAMS_CUST_SPACE_ID)")
    parser.add_argument("--json", action="store_true", help="print one JSON array on stdout")
    # Its output is the per-flow lines; retries and fetches show only when LOG_LEVEL asks.
    parser.set_defaults(run=run, log_default="ERROR")


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 when every flow has a preview, 1 when any failed, 2 when an ID is not one."""
    # As in Slack: anything but a flow ID's shape is refused before CAMS hears of it.
    not_ids = [flow_id for flow_id in dict.fromkeys(args.flow_ids) if not is_flow_id(flow_id)]
    if not_ids:
        named = ", ".join(repr(flow_id) for flow_id in not_ids)
        print(f"error: not a flow ID (10 to 20 digits): {named}", file=sys.stderr)
        return EXIT_NOT_AN_ID
    service = PreviewService.from_env(env)
    pairs = asyncio.run(_fetch_all(service, args.flow_ids, args.space))
    if args.json:
        print(json.dumps([_as_json(flow_id, outcome) for flow_id, outcome in pairs], indent=2))
    for flow_id, outcome in pairs:
        if isinstance(outcome, FlowPreview):
            if not args.json:
                print(preview_line(outcome, datetime.now(UTC)))
        else:
            print(f"error: flow {flow_id!r}: {_error_line(outcome)}", file=sys.stderr)
    return 0 if all(isinstance(outcome, FlowPreview) for _, outcome in pairs) else 1


async def _fetch_all(
    service: PreviewService, flow_ids: list[str], space: str | None
) -> list[tuple[str, Outcome]]:
    async with service:
        return await service.get_many(flow_ids, space)


def preview_line(preview: FlowPreview, now: datetime, zone: tzinfo | None = None) -> str:
    """The flow's link, when it expires, and how long it has left at `now`; the expiry in
    `zone` (this machine's when None) and in UTC."""
    left = _duration(preview.expires_at - now)
    return f"{preview.flow_id}  {preview.preview_url}\n    expires {_expiry(preview, zone)}, {left}"


def _expiry(preview: FlowPreview, zone: tzinfo | None) -> str:
    """The expiry in local time and in UTC, or once when local time is UTC."""
    local = preview.expires_at.astimezone(zone)
    utc = f"{preview.expires_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    if local.utcoffset() == timedelta(0):
        return utc
    return f"{local:%Y-%m-%d %H:%M:%S %Z} ({utc})"


def _duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "already expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"in {days}d {hours}h"
    return f"in {hours}h {rest // 60}m" if hours else f"in {rest // 60}m {rest % 60}s"


def _error_fields(error: Failure) -> dict[str, Any]:
    if isinstance(error, BusyError):
        return {
            "kind": "busy",
            "code": None,
            "message": str(error),
            "request_id": None,
            "http_status": None,
        }
    return {
        "kind": error.kind.value,
        "code": error.code,
        "message": error.message,
        "request_id": error.request_id,
        "http_status": error.http_status,
    }


def _error_line(error: Failure) -> str:
    fields = _error_fields(error)
    code = fields["code"] or fields["kind"]
    return f"{code}: {fields['message']} (RequestId {fields['request_id'] or '-'})"


def _as_json(flow_id: str, outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, FlowPreview):
        return {
            "flow_id": flow_id,
            "ok": True,
            "preview_url": outcome.preview_url,
            "expires_at": outcome.expires_at.isoformat().replace("+00:00", "Z"),
            "request_id": outcome.request_id,
        }
    return {"flow_id": flow_id, "ok": False, "error": _error_fields(outcome)}
