"""Log capture as the bot formats it, and what every JSON line must hold."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.logs import LogFormat, make_handler

FLOW = "1234567890123456"
# RFC 3339, UTC, milliseconds.
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
log = logging.getLogger("bot.test_logs")


@contextmanager
def captured(fmt: LogFormat, level: int = logging.INFO) -> Iterator[io.StringIO]:
    """What the root handler, as the bot configures it, writes while the block runs."""
    out = io.StringIO()
    handler = make_handler(fmt, stream=out)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def records(out: io.StringIO) -> list[dict[str, Any]]:
    """Every line as the JSON object it must be, each with the four fields every line has."""
    lines = out.getvalue().splitlines()
    documents = [json.loads(line) for line in lines]
    for document in documents:
        assert TIME.fullmatch(document["time"]), document
        assert {"level", "logger", "message"} <= document.keys()
    return documents
