"""Hiding secrets in text bound for a log: the values the process holds, and obvious patterns.

`bot.config.Secret` registers its value here when it is made, so that whatever prints it by
mistake (an exception message, a third-party debug line) prints `***` instead. Only values
still held by a live Secret are kept: temporary credentials rotate, and the ones dropped
leave with their Secret, while the long-lived ones (signing secret, bot token) stay. The
patterns catch what no Secret holds: Slack tokens, request signatures, Authorization and
security-token headers, credentials in URLs and JSON Web Tokens.

No import of the rest of the bot: `bot.config` imports this module.
"""

from __future__ import annotations

import gc
import re
import threading
import weakref

MASK = "***"
# Shorter values would turn ordinary words into asterisks; real secrets are far longer
# (an AccessKey secret is 30 characters, a signing secret 32, a token more).
MIN_SECRET_LENGTH = 8
# The live secrets kept at most (dropped ones go first); past it the oldest go. A process
# holds a handful: the Slack secrets, its AccessKey, the current STS token and its key.
MAX_SECRETS = 64

_lock = threading.Lock()
_held: list[tuple[weakref.ref[object], str]] = []
# What `redact` reads: replaced whole on each registration, so reading needs no lock.
_values: tuple[str, ...] = ()

# Some 0.1 us a character to scan: `redact` runs it only on text holding one of _HINTS.
_PATTERN = re.compile(
    r"(?P<token>\b(?:xox[a-z](?:\.xox[a-z])?|xapp)-)[A-Za-z0-9-]+"
    r"|(?P<signature>\bv0=)[0-9a-fA-F]{16,}"
    r"|(?P<jwt>\beyJ)[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
    # A header or field whose value is secret, however it is written: `Name: value`,
    # `'Name': 'value'`, `"Name":"value"`, `name=value`; the value runs to a quote or the
    # line's end. Not inside a longer name: ALIBABA_CLOUD_SECURITY_TOKEN is a variable name;
    # nor a value that hides itself already, as a Secret's repr does, or none at all.
    r"|(?P<field>(?<![\w-])(?:authorization|x-acs-security-token|x-slack-signature"
    r"|access_?key_?secret|security_?token|signing_?secret|client_?secret)"
    r"[\"']?[ \t]*[:=][ \t]*[\"']?)(?!Secret\(|None\b)[^\"'\r\n]+"
    # A password in a URL: scheme://user:password@host.
    r"|(?P<userinfo>://[^:/@\s]*:)[^@\s/]+@",
    re.IGNORECASE,
)

# Lower case; each match of _PATTERN contains one of them.
_HINTS = ("xox", "xapp-", "v0=", "eyj", "://", "authorization", "signature", "secret", "token")


def remember(owner: object, value: str) -> None:
    """Redact `value` from log text for as long as `owner` (its Secret) is alive."""
    global _values  # noqa: PLW0603 - the snapshot `redact` reads without a lock
    if len(value) < MIN_SECRET_LENGTH:
        return
    with _lock:
        # Dropped Secrets are forgotten here rather than in a finalizer, which could run
        # in the middle of this very update.
        _prune()
        if len(_held) >= MAX_SECRETS:
            # Secrets dropped in a reference cycle live until the collector runs; forgetting
            # the oldest live one instead would forget the signing secret and the bot token.
            gc.collect()
            _prune()
        _held.append((weakref.ref(owner), value))
        del _held[:-MAX_SECRETS]
        # Longest first, so that a secret containing another is hidden whole.
        _values = tuple(sorted({held for _, held in _held}, key=len, reverse=True))


def _prune() -> None:
    _held[:] = [(ref, held) for ref, held in _held if ref() is not None]


def redact(text: str) -> str:
    """`text` with every registered secret and every secret-looking pattern masked."""
    for value in _values:
        if value in text:
            text = text.replace(value, MASK)
    # The pattern costs some 0.1 us a character; these substring tests, which every match
    # must pass, take a tenth of that, and most lines pass none of them.
    lowered = text.lower()
    for hint in _HINTS:
        if hint in lowered:
            return _PATTERN.sub(_mask, text)
    return text


def _mask(match: re.Match[str]) -> str:
    prefix = match.group("token") or match.group("signature") or match.group("field")
    if prefix is not None:
        return prefix + MASK
    if match.group("userinfo") is not None:
        return match.group("userinfo") + MASK + "@"
    return MASK
