"""`python -m bot get FLOW_ID …`: fetch preview links from the command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from typing import Any

from bot.cams.client import CamsClient
from bot.cams.credentials import Credentials
from bot.cams.errors import CamsError
from bot.cams.models import FlowPreview
from bot.cams.settings import CamsSettings

Outcome = FlowPreview | CamsError


def add_parser(commands: Any) -> None:
    """Register `get` on the sub-command parser."""
    parser = commands.add_parser(
        "get",
        help="print the preview link of each flow",
        description="Fetch WhatsApp Flow preview links through CAMS GetFlowPreviewUrl.",
    )
    parser.add_argument("flow_ids", nargs="+", metavar="FLOW_ID")
    parser.add_argument("--space", help="CustSpaceId (default: CAMS_CUST_SPACE_ID)")
    parser.add_argument("--json", action="store_true", help="print one JSON array on stdout")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Exit 0 when every flow has a preview, 1 when any failed."""
    credentials = Credentials.from_env(env)
    settings = CamsSettings.from_env(env)
    outcomes = asyncio.run(_fetch_all(credentials, settings, args.flow_ids, args.space))
    if args.json:
        print(
            json.dumps(
                [_as_json(flow_id, o) for flow_id, o in zip(args.flow_ids, outcomes, strict=True)],
                indent=2,
            )
        )
    failed = False
    for flow_id, outcome in zip(args.flow_ids, outcomes, strict=True):
        if isinstance(outcome, CamsError):
            failed = True
            print(f"error: flow {flow_id!r}: {_error_line(outcome)}", file=sys.stderr)
        elif not args.json:
            print(_preview_line(outcome))
    return 1 if failed else 0


async def _fetch_all(
    credentials: Credentials, settings: CamsSettings, flow_ids: list[str], space: str | None
) -> list[Outcome]:
    async with CamsClient(credentials, settings) as client:

        async def one(flow_id: str) -> Outcome:
            try:
                return await client.get_flow_preview_url(flow_id, space)
            except CamsError as error:
                return error

        return await asyncio.gather(*(one(flow_id) for flow_id in flow_ids))


def _preview_line(preview: FlowPreview) -> str:
    local = preview.expires_at.astimezone()
    utc = preview.expires_at.astimezone(UTC)
    left = _duration(preview.expires_at - datetime.now(UTC))
    return (
        f"{preview.flow_id}  {preview.preview_url}\n"
        f"    expires {local:%Y-%m-%d %H:%M:%S %Z} ({utc:%Y-%m-%d %H:%M:%S} UTC), {left}"
    )


def _duration(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    if seconds <= 0:
        return "already expired"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"in {days}d {hours}h"
    return f"in {hours}h {rest // 60}m" if hours else f"in {rest // 60}m {rest % 60}s"


def _error_line(error: CamsError) -> str:
    return (
        f"{error.code or error.kind.value}: {error.message} (RequestId {error.request_id or '-'})"
    )


def _as_json(flow_id: str, outcome: Outcome) -> dict[str, Any]:
    if isinstance(outcome, CamsError):
        return {
            "flow_id": flow_id,
            "ok": False,
            "error": {
                "kind": outcome.kind.value,
                "code": outcome.code,
                "message": outcome.message,
                "request_id": outcome.request_id,
                "http_status": outcome.http_status,
            },
        }
    return {
        "flow_id": flow_id,
        "ok": True,
        "preview_url": outcome.preview_url,
        "expires_at": outcome.expires_at.isoformat().replace("+00:00", "Z"),
        "request_id": outcome.request_id,
    }
