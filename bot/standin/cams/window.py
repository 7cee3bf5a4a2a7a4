"""Arrival bookkeeping for the emulator: a per-account sliding window and the busiest second."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

WINDOW_S = 1.0


class SlidingWindow:
    """At most `limit` admissions in any `WINDOW_S`-long interval (0 means no limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._admitted: deque[float] = deque()

    def admit(self, now: float) -> float | None:
        """Admit a call at `now`, or return the seconds until one could be admitted."""
        if self.limit <= 0:
            return None
        while self._admitted and now - self._admitted[0] >= WINDOW_S:
            self._admitted.popleft()
        if len(self._admitted) >= self.limit:
            return WINDOW_S - (now - self._admitted[0])
        self._admitted.append(now)
        return None


def max_in_window(times: Sequence[float], window: float = WINDOW_S) -> int:
    """The largest number of `times` (sorted ascending) inside any half-open window of `window`."""
    return len(busiest_window(times, window))


def busiest_window(times: Sequence[float], window: float = WINDOW_S) -> list[float]:
    """The `times` (sorted ascending) of the first half-open window of `window` holding the most."""
    best: Sequence[float] = []
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        if end - start + 1 > len(best):
            best = times[start : end + 1]
    return list(best)
