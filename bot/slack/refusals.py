"""Log lines for refused requests that no flood of them can turn into a flood of log.

A refused request is one short line: a reason and where it came from, never a body, a
header value or a response_url. The first refusal for a reason is logged at once; repeats in
the next minute are only counted, and the count comes out with the next line for that reason
(or at shutdown). So one client hammering the endpoint costs one line per reason per minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

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
