"""Errors the preview service adds to those of the CAMS client."""

from __future__ import annotations

from bot.errors import FlowpreviewError


class BusyError(FlowpreviewError):
    """The account's call budget is booked further ahead than the caller may wait.

    Refused at once, taking no slot; `retry_after` is how many seconds until the caller
    would have been served.
    """

    def __init__(self, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"the CAMS call budget is booked for the next {retry_after:.1f}s")
