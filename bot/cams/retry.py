"""When to try a CAMS call again, and how long to wait before doing so."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bot.cams.errors import CamsError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter, bounded by attempts and by an overall deadline.

    Delays are seconds. A server's `x-acs-retry-after` is a floor under the jittered delay;
    one that would cross the deadline (an absurd one included) ends the call at once.
    """

    max_attempts: int = 4
    deadline: float = 25.0
    base_delay: float = 0.2
    max_delay: float = 5.0

    def delay_before_retry(
        self, error: CamsError, attempt: int, elapsed: float, rng: Callable[[], float]
    ) -> float | None:
        """Seconds to wait before attempt `attempt + 1`, or None when the error is final.

        `attempt` counts from 1; `elapsed` is the time spent since the first attempt began;
        `rng` returns a float in [0, 1).
        """
        if not error.kind.retryable or attempt >= self.max_attempts:
            return None
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        delay = max(ceiling * rng(), _hint(error.retry_after))
        if elapsed + delay >= self.deadline:
            return None
        return delay


def _hint(retry_after: float | None) -> float:
    """The server's hint as a floor: a negative one counts as none, a NaN as endless."""
    if retry_after is None or retry_after < 0:
        return 0.0
    return math.inf if math.isnan(retry_after) else retry_after
