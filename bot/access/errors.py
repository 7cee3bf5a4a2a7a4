"""The one error type of the rule book, with a kind to branch on."""

from __future__ import annotations

from enum import StrEnum

from bot.errors import FlowpreviewError


class RuleErrorKind(StrEnum):
    """What was wrong with a change to the rules."""

    # An ID that is not one of the kind it should be: nothing was written.
    INVALID = "invalid"
    # A space ID that differs from a known space only in case or '_' versus '-': nothing was
    # written.
    LOOK_ALIKE = "look_alike"
    # The change would pass a bound on what is kept (and held in every replica's memory).
    TOO_MANY = "too_many"


class RuleError(FlowpreviewError):
    """A change to the rules that was refused, or rules that could not be read; the message is
    one line, safe to show to whoever made the change."""

    def __init__(self, kind: RuleErrorKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
