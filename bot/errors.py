"""The one base of every error flowpreview raises.

No import of the rest of the bot: every layer imports this module (an import-linter contract in
pyproject.toml checks it).
"""

from __future__ import annotations


class FlowpreviewError(Exception):
    """What every error of the bot promises.

    Each is its own type, named `<what went wrong>Error`, so that a caller catches exactly what
    it can handle. One that callers branch on carries a kind (an enum: `CamsError.kind`,
    `RuleError.kind`, ...). Its message is one sentence a person can read, and the fields beside
    it (codes, request IDs, statuses) are the details a log line or a support ticket needs.
    Neither ever holds a secret: no token, key, signature or password, whatever the error wraps.

    Errors that must also be a library's (`SlackWebError` is a slack_sdk `SlackApiError`) derive
    from both.
    """
