"""Fault rules for the CAMS emulator: what goes wrong, and for which requests.

A rule is written `FAULT@TARGET[*COUNT]`:

- FAULT: `latency:SECONDS` (answer normally, late), `drop` (close the connection without an
  answer), `malformed` (HTTP 200 with a body that is not JSON), `http:STATUS` (a bare gateway
  error page), `error:CODE` (a CAMS error answer; the documented codes get their real HTTP
  status and message, and `Ram.PermissionDeny` names the RAM action of the request),
  `throttle[:MILLIS]` (Throttling.User with `x-acs-retry-after`), or `insecure-url` (a
  GetFlowPreviewUrl success whose PreviewUrl is plain http).
- TARGET: `all`, or one or more of these joined with `+`, each at most once:
  `action:NAME` (GetFlowPreviewUrl, ListFlow or GetFlow), `flow:FLOW_ID` (requests for that
  flow), `page:N` (ListFlow asking for page index N), `rate:FRACTION` (that share of the
  requests the other parts match). Example: `http:500@action:ListFlow+page:3*1`.
- COUNT: apply to the first COUNT matching requests only, then behave normally.

A rule without `action:` or `page:` concerns GetFlowPreviewUrl only, as every rule did before the
emulator knew other actions: a background ListFlow or GetFlow never uses up a count meant for a
preview. `page:N` alone means ListFlow.

Rules are tried in order. A matching latency rule delays the answer and the search goes on;
the first other rule that matches decides the answer.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from bot.cams.actions import Action

# The errors CAMS documents for its flow actions, and the other answers a client must tell apart.
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


@dataclass(frozen=True, slots=True)
class Call:
    """What a fault rule can target in one request."""

    action: Action
    flow_id: str = ""
    # ListFlow's page index, when Page was readable.
    page: int | None = None


@dataclass(slots=True)
class FaultRule:
    """A fault, the requests it targets, and how many more times it may fire (None: always)."""

    fault: Fault
    action: Action = Action.GET_FLOW_PREVIEW_URL
    flow: str | None = None
    page: int | None = None
    rate: float = 1.0
    remaining: int | None = None
    text: str = field(default="", compare=False)

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        """Read `FAULT@TARGET[*COUNT]`; raise ValueError with the reason."""
        fault_text, at, target = text.partition("@")
        if not at:
            raise ValueError(f"fault rule {text!r} needs a target: @all, @action:NAME, @flow:ID...")
        target, star, count = target.partition("*")
        if star and not (count.isdigit() and int(count) > 0):
            raise ValueError(f"count in {text!r} must be a positive whole number")
        rule = cls(Fault.parse(fault_text), remaining=int(count) if star else None, text=text)
        if target != "all":
            rule._aim(text, _PART_SEPARATOR.split(target))
        if rule.fault.name == "insecure-url" and rule.action is not Action.GET_FLOW_PREVIEW_URL:
            raise ValueError(f"fault in {text!r}: insecure-url only suits GetFlowPreviewUrl")
        return rule

    def _aim(self, text: str, parts: list[str]) -> None:
        """Set the targets of `parts` (`kind:value` each), refusing repeats and unknown kinds."""
        kinds = [part.partition(":")[0] for part in parts]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"target of {text!r} names a kind twice")
        action: Action | None = None
        for part in parts:
            kind, _, value = part.partition(":")
            if kind == "flow" and value:
                self.flow = value
            elif kind == "rate" and _is_number(value) and 0 < float(value) <= 1:
                self.rate = float(value)
            elif kind == "page" and value.isdigit() and int(value) > 0:
                self.page = int(value)
            elif kind == "action" and value in _ACTIONS:
                action = Action(value)
            else:
                raise ValueError(
                    f"target of {text!r} must be all, or action:NAME, flow:ID, page:N and "
                    "rate:FRACTION joined with +"
                )
        if self.page is not None:
            if action not in (None, Action.LIST_FLOW):
                raise ValueError(f"target of {text!r}: page:N only suits ListFlow")
            action = Action.LIST_FLOW
        self.action = action or Action.GET_FLOW_PREVIEW_URL

    def take(self, call: Call, rng: random.Random) -> bool:
        """Whether this rule fires for `call`; firing uses up one count."""
        if (
            self.remaining == 0
            or self.action is not call.action
            or (self.flow is not None and self.flow != call.flow_id)
            or (self.page is not None and self.page != call.page)
        ):
            return False
        if self.rate < 1.0 and rng.random() >= self.rate:
            return False
        if self.remaining is not None:
            self.remaining -= 1
        return True


_ACTIONS = frozenset(action.value for action in Action)
# `+` joins target parts; a `+` inside a flow ID is kept when no known kind follows it.
_PART_SEPARATOR = re.compile(r"\+(?=(?:action|flow|page|rate):)")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip().lower() not in ("nan", "inf", "-inf", "infinity", "-infinity")
