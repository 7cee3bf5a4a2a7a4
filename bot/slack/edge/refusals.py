"""Log lines for refused requests that no flood of them can turn into a flood of log.

A refused request is one short line: a reason and where it came from, never a body, a
header value or a response_url. The first refusal for a reason is logged at once; repeats in
the next minute are only counted, and the count comes out with the next line for that reason
(or at shutdown). So one client hammering the endpoint costs one line per reason per minute.
The same goes for HTTP that aiohttp's parser rejects before any handler sees it
(`MalformedRequests`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp.http_exceptions import HttpProcessingError

WINDOW_S = 60.0
# Reasons are the server's own few words; the bound only keeps a bug from growing the table.
MAX_REASONS = 256


@dataclass(slots=True)
class _Tally:
    opened_at: float
    unlogged: int = 0
    last_source: str = ""


class RefusalLog:
    """One line per reason per `window` seconds, with a count of those not logged."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        window: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._window = window
        self._clock = clock
        self._tallies: dict[str, _Tally] = {}

    def refused(self, reason: str, source: str | None) -> None:
        """Note one refusal for `reason` from `source` (a client address or a host)."""
        now = self._clock()
        source = source or "?"
        tally = self._tallies.get(reason)
        if tally is not None and now - tally.opened_at < self._window:
            tally.unlogged += 1
            tally.last_source = source
            return
        repeats = tally.unlogged if tally is not None else 0
        if len(self._tallies) >= MAX_REASONS and tally is None:
            self.flush()
        self._tallies[reason] = _Tally(opened_at=now)
        self._log.warning("refused %s: %s%s", source, reason, _repeats(repeats, self._window))

    def flush(self) -> None:
        """Log the counts not yet logged, and forget them (at shutdown, or when full)."""
        for reason, tally in self._tallies.items():
            if tally.unlogged:
                self._log.warning(
                    "refused %s: %s%s",
                    tally.last_source,
                    reason,
                    _repeats(tally.unlogged, self._window),
                )
        self._tallies.clear()


def _repeats(count: int, window: float) -> str:
    if not count:
        return ""
    return f" (and {count} more like it in the {window:g}s before)"


class MalformedRequests(logging.Filter):
    """aiohttp's log line for each request its parser rejects, made a refusal instead.

    aiohttp's server logs every malformed request (a bad header line, a line over 8 KiB, a bad
    method or version) at ERROR with a traceback that quotes the request: some 10 MB of log per
    MB of such noise, before anyone is authenticated. Put on the `aiohttp.server` logger, this
    turns each into a refusal named after the parser's error, summarised like the others.
    """

    def __init__(self, refusals: RefusalLog) -> None:
        super().__init__()
        self._refusals = refusals

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a malformed request, counted as a refusal; True for any other line."""
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        # aiohttp's "Error handling request from %s" names the client's address.
        args = record.args
        source = args[0] if isinstance(args, tuple) and args and isinstance(args[0], str) else None
        self._refusals.refused(f"malformed HTTP ({type(error).__name__})", source)
        return False
