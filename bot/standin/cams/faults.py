"""Fault rules for the CAMS emulator: what goes wrong, and for which requests.

A rule is written `FAULT@TARGET[*COUNT]`:

- FAULT: `latency:SECONDS` (answer normally, late), `drop` (close the connection without an
  answer), `malformed` (HTTP 200 with a body that is not JSON), `http:STATUS` (a bare gateway
  error page), `error:CODE` (a CAMS error answer; the documented codes get their real HTTP
  status and message), `throttle[:MILLIS]` (Throttling.User with `x-acs-retry-after`), or
  `insecure-url` (a success whose PreviewUrl is plain http).
- TARGET: `flow:FLOW_ID` (that flow only), `rate:FRACTION` (that share of all requests), or
  `all`.
- COUNT: apply to the first COUNT matching requests only, then behave normally.

Rules are tried in order. A matching latency rule delays the answer and the search goes on;
the first other rule that matches decides the answer.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

# The documented GetFlowPreviewUrl errors, and the other answers the client must tell apart.
KNOWN_ERRORS: dict[str, tuple[int, str]] = {
    "Product.Unsubscript": (400, "The CAMS product is not subscribed by this account."),
    "Ram.PermissionDeny": (400, "You are not authorized to perform this operation."),
    "System.LimitControl": (400, "The request was denied by flow control."),
    "Unknown.ResourceOwnerId": (400, "The resource does not belong to the current user."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "Throttling.Api": (400, "Request was denied due to api flow control."),
    "InvalidParameter": (400, "The specified parameter is invalid."),
    "Flow.NotFound": (404, "The specified flow does not exist."),
    "SignatureDoesNotMatch": (400, "Specified signature does not match our calculation."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
}

SIMPLE_FAULTS = ("drop", "malformed", "insecure-url")


@dataclass(frozen=True, slots=True)
class Fault:
    """One way to misbehave; `argument` is the text after the first colon."""

    name: str
    argument: str = ""

    @classmethod
    def parse(cls, text: str) -> Fault:
        """Read `name[:argument]`, checking the argument each fault needs."""
        name, _, argument = text.partition(":")
        if name in SIMPLE_FAULTS and not argument:
            return cls(name)
        if name == "latency" and _is_number(argument) and float(argument) >= 0:
            return cls(name, argument)
        if name == "http" and argument.isdigit() and 400 <= int(argument) <= 599:
            return cls(name, argument)
        if name == "throttle" and (not argument or argument.isdigit()):
            return cls(name, argument)
        if name == "error" and argument and argument.isprintable():
            return cls(name, argument)
        raise ValueError(f"unknown fault {text!r}")


@dataclass(slots=True)
class FaultRule:
    """A fault, the requests it targets, and how many more times it may fire (None: always)."""

    fault: Fault
    flow: str | None = None
    rate: float = 1.0
    remaining: int | None = None
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """Read `FAULT@TARGET[*COUNT]`; raise ValueError with the reason."""
        fault_text, at, target = text.partition("@")
        if not at:
            raise ValueError(f"fault rule {text!r} needs @flow:ID, @rate:FRACTION or @all")
        target, star, count = target.partition("*")
        if star and not (count.isdigit() and int(count) > 0):
            raise ValueError(f"count in {text!r} must be a positive whole number")
        rule = cls(Fault.parse(fault_text), remaining=int(count) if star else None, text=text)
        kind, _, value = target.partition(":")
        if kind == "flow" and value:
            rule.flow = value
        elif kind == "rate" and _is_number(value) and 0 < float(value) <= 1:
            rule.rate = float(value)
        elif target != "all":
            raise ValueError(f"target of {text!r} must be flow:ID, rate:FRACTION or all")
        return rule

    def take(self, flow_id: str, rng: random.Random) -> bool:
        """Whether this rule fires for a request for `flow_id`; firing uses up one count."""
        if self.remaining == 0 or (self.flow is not None and self.flow != flow_id):
            return False
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity")
