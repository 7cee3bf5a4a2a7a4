"""The command line's parts in-process: which module each command loads, and `get`'s lines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cams.models import FlowPreview
from bot.cli import build_parser
from bot.cli.get import preview_line
from tests.shared.cli import OK


@pytest.mark.parametrize(
    ("zone", "expires", "shown"),
    [
        # Fetched in winter, expiring after the clocks went forward; and after they went back.
        ("Europe/Berlin", datetime(2027, 4, 1, 12, tzinfo=UTC), "2027-04-01 14:00:00 CEST"),
        ("America/New_York", datetime(2027, 11, 20, 12, tzinfo=UTC), "2027-11-20 07:00:00 EST"),
        ("Europe/London", datetime(2027, 6, 1, 9, 30, tzinfo=UTC), "2027-06-01 10:30:00 BST"),
        # Local time is UTC: shown once.
        ("Europe/London", datetime(2027, 12, 1, 9, 30, tzinfo=UTC), None),
    ],
)
def test_get_shows_the_expiry_in_the_zone_it_falls_in_and_the_time_left(
    zone: str, expires: datetime, shown: str | None
) -> None:
    preview = FlowPreview("1234567890123456", "https://x.test/p", expires, "REQ-1")
    a_minute_after_the_fetch = expires - timedelta(days=30, minutes=-1)

    line = preview_line(preview, a_minute_after_the_fetch, ZoneInfo(zone))

    utc = f"{expires:%Y-%m-%d %H:%M:%S} UTC"
    expiry = f"{shown} ({utc})" if shown else utc
    assert line == f"1234567890123456  https://x.test/p\n    expires {expiry}, in 29d 23h"


def test_each_command_loads_only_its_own_module() -> None:
    parser = build_parser("get")
    assert parser.parse_args(["get", OK]).run.__module__ == "bot.cli.get"
    # The others are known by name only: a usage error, never a missing module.
    assert build_parser(None).parse_args(["serve"]).command == "serve"
