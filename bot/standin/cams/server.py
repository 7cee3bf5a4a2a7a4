"""A local stand-in for the CAMS endpoint: GetFlowPreviewUrl, ListFlow and GetFlow.

It verifies signatures, throttles each (account, action) pair, injects faults, and answers the
flow actions from a seeded catalog of flows per CustSpaceId, whose statuses can change while it
runs.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.cams import signing
from bot.cams.actions import Action
from bot.cams.client import API_VERSION
from bot.cams.credentials import Credentials
from bot.config import Secret
from bot.standin.alibaba.keys import KeyMint
from bot.standin.cams.catalog import SeededFlow, default_catalog
from bot.standin.cams.faults import KNOWN_ERRORS, Call, Fault, FaultRule
from bot.standin.cams.flows import FlowState, Spaces, details, page_index, read_page
from bot.standin.cams.statuses import (
    AmbiguousFlowError,
    InvalidStatusError,
    UnknownFlowError,
    read_control_body,
)
from bot.standin.cams.window import SlidingWindow, max_in_window

DEFAULT_LINK_TTL_S = 30 * 24 * 3600
MAX_CLOCK_SKEW_S = 15 * 60
PREVIEW_BASE = "https://business.facebook.com/wa/manage/flows"
# Bounds on what the emulator remembers, so a long benchmark cannot grow it without limit.
MAX_LINKS = 100_000
MAX_RECORDED = 2_000

DEMO_CREDENTIALS = Credentials("flowpreview-demo-key", Secret("flowpreview-demo-secret"))

_Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What arrived on the wire, for tests that check bytes rather than outcomes."""

    raw_path: str
    headers: Mapping[str, str]
    flow_id: str | None
    outcome: str
    # The x-acs-action header as sent, known or not.
    action: str


def arrival_key(account: str, action: Action) -> str:
    """The key of an (account, action) pair in `stats()["arrivals"]` and `["max_in_any_second"]`.

    GetFlowPreviewUrl keeps the bare AccessKey ID, as before there were other actions, so that
    readers measuring the preview budget need not change; other actions are `account:Action`.
    """
    return account if action is Action.GET_FLOW_PREVIEW_URL else f"{account}:{action}"


class _Answer(Exception):
    """Stops handling with a finished CAMS answer."""

    def __init__(self, response: web.StreamResponse) -> None:
        super().__init__("answer")
        self.response = response


class _Drop(Exception):
    """Stops handling by closing the connection without an answer."""


class Emulator:
    """CAMS as seen from a client, for the demo, the tests and the benchmarks.

    `qps` is the budget of each (account, action) pair (0 switches throttling off). Links are
    stable per (account, space, flow) until they expire, `link_ttl` seconds after they were
    first issued. GetFlowPreviewUrl gives a link for any flow ID; ListFlow and GetFlow answer
    from `catalog` (flows by CustSpaceId, `default_catalog()` when None), shared by all accounts.

    With `mint`, temporary credentials it issued (by the stand-in STS, metadata service or
    credentials URI) are accepted until they expire, as the account (uid) they were issued for:
    that account, not their changing AccessKey ID, is what is throttled and counted.

    A flow's status changes with `set_status` (any short text, as CAMS passes Meta's through),
    and `remove_flow` makes it disappear until its status is set again.
    """

    def __init__(
        self,
        accounts: Iterable[Credentials],
        *,
        qps: int = 5,
        link_ttl: float = DEFAULT_LINK_TTL_S,
        rules: Iterable[FaultRule] = (),
        catalog: Mapping[str, Sequence[SeededFlow]] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        mint: KeyMint | None = None,
    ) -> None:
        self._accounts = {c.access_key_id: c for c in accounts}
        self._mint = mint
        self.qps = qps
        self.link_ttl = link_ttl
        self.rules: list[FaultRule] = list(rules)
        self._rng = random.Random(seed)  # noqa: S311 - picks faults, guards nothing
        self._clock = clock
        self._wall_clock = wall_clock
        self._link_secret = uuid.uuid4().bytes
        self.set_catalog(default_catalog() if catalog is None else catalog)
        self.reset()

    def set_catalog(self, catalog: Mapping[str, Sequence[SeededFlow]]) -> None:
        """Answer ListFlow and GetFlow from `catalog` from now on; other spaces have no flows.

        Statuses set and flows removed in the catalog before are forgotten.
        """
        self._spaces = Spaces(catalog)

    def flow_state(self, flow_id: str, space: str | None = None) -> FlowState:
        """The flow's state, in `space` or in the one space that holds it.

        Raises UnknownFlowError, or AmbiguousFlowError when several spaces hold it and `space`
        is None.
        """
        return self._spaces.state(flow_id, space)

    def set_status(self, flow_id: str, status: str, space: str | None = None) -> FlowState:
        """GetFlow reports `status` for the flow from now on; a removed flow comes back.

        Raises InvalidStatusError for an empty, unprintable or over-long status, and as
        `flow_state` does.
        """
        return self._spaces.set_status(flow_id, status, space)

    def remove_flow(self, flow_id: str, space: str | None = None) -> FlowState:
        """ListFlow leaves the flow out and GetFlow answers Flow.NotFound, until `set_status`.

        Raises as `flow_state` does.
        """
        return self._spaces.remove(flow_id, space)

    def reset(self) -> None:
        """Forget arrivals, windows, issued links and recorded requests (not the catalog)."""
        self._windows: dict[tuple[str, Action], SlidingWindow] = {}
        self._arrivals: dict[str, list[float]] = {}
        self._links: OrderedDict[tuple[str, str, str], tuple[str, int]] = OrderedDict()
        # Nonces seen within the allowed clock skew, oldest first.
        self._nonces: OrderedDict[str, float] = OrderedDict()
        self.counts: dict[str, int] = {}
        # GetFlowPreviewUrl calls per FlowId, and GetFlow calls per FlowId (a poller's).
        self.by_flow: dict[str, int] = {}
        self.get_flow_by_flow: dict[str, int] = {}
        self.by_action: dict[str, int] = {}
        self.recorded: deque[RecordedRequest] = deque(maxlen=MAX_RECORDED)

    def app(self) -> web.Application:
        """The aiohttp application: `POST /` is CAMS; `/_emulator/*` controls and reports."""
        app = web.Application()
        app.router.add_post("/", self._handle)
        app.router.add_get("/_emulator/stats", self._stats)
        app.router.add_post("/_emulator/reset", self._reset)
        app.router.add_put("/_emulator/faults", self._set_faults)
        app.router.add_get("/_emulator/flows/{flow_id}", self._get_flow_state)
        app.router.add_put("/_emulator/flows/{flow_id}/status", self._put_flow_status)
        return app

    def stats(self) -> _Json:
        """Counts by outcome and action, and the busiest 1-second window per `arrival_key`."""
        return {
            "counts": dict(self.counts),
            "by_flow": dict(self.by_flow),
            "get_flow_by_flow": dict(self.get_flow_by_flow),
            "by_action": dict(self.by_action),
            "received": sum(len(times) for times in self._arrivals.values()),
            "max_in_any_second": {key: max_in_window(t) for key, t in self._arrivals.items()},
            "arrivals": {key: list(t) for key, t in self._arrivals.items()},
        }

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.stats())

    async def _reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})

    async def _set_faults(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            self.rules = [FaultRule.parse(text) for text in body["rules"]]
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"rules": [rule.text for rule in self.rules]})

    async def _get_flow_state(self, request: web.Request) -> web.Response:
        flow_id = request.match_info["flow_id"]
        space = request.query.get("space") or None
        return _controlled(lambda: self.flow_state(flow_id, space))

    async def _put_flow_status(self, request: web.Request) -> web.Response:
        flow_id = request.match_info["flow_id"]
        try:
            space, status = read_control_body(await request.json())
        except ValueError:
            return web.json_response({"error": "the body is not JSON"}, status=400)
        except InvalidStatusError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        if status is None:
            return _controlled(lambda: self.remove_flow(flow_id, space))
        return _controlled(lambda: self.set_status(flow_id, status, space))

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        request_id = str(uuid.uuid4()).upper()
        flow_id = request.query.get("FlowId")
        try:
            account, action = self._authenticate(request, await request.read(), request_id)
            self._arrive(account, action, flow_id)
            self._throttle(account, action, request_id)
            response = await self._respond(request, account, action, request_id)
        except _Answer as answer:
            response = answer.response
        except _Drop:
            self._record(request, flow_id, web.Response(headers=_outcome("drop")))
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError from None
        self._record(request, flow_id, response)
        return response

    def _record(
        self, request: web.Request, flow_id: str | None, response: web.StreamResponse
    ) -> None:
        outcome = response.headers.get("x-emulator-outcome", "OK")
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        action = request.headers.get("x-acs-action", "")
        self.recorded.append(
            RecordedRequest(request.raw_path, dict(request.headers), flow_id, outcome, action)
        )

    def _arrive(self, account: str, action: Action, flow_id: str | None) -> None:
        self._arrivals.setdefault(arrival_key(account, action), []).append(self._clock())
        self.by_action[action] = self.by_action.get(action, 0) + 1
        if flow_id is None:
            return
        if action is Action.GET_FLOW_PREVIEW_URL:
            self.by_flow[flow_id] = self.by_flow.get(flow_id, 0) + 1
        elif action is Action.GET_FLOW:
            self.get_flow_by_flow[flow_id] = self.get_flow_by_flow.get(flow_id, 0) + 1

    def _authenticate(
        self, request: web.Request, body: bytes, request_id: str
    ) -> tuple[str, Action]:
        """The account (the AccessKey ID, or the uid of minted credentials) and action of a
        well-signed request, or a CAMS error answer."""
        parsed = signing.parse_authorization(request.headers.get("Authorization", ""))
        if parsed is None:
            raise _error(request_id, "IncompleteSignature", 400, "Missing or malformed signature.")
        credentials = self._accounts.get(parsed.access_key_id)
        account = parsed.access_key_id
        grant = self._mint.check(account) if self._mint and credentials is None else None
        if grant is not None:
            if grant.expires_at <= self._wall_clock():
                raise _error(
                    request_id,
                    "InvalidSecurityToken.Expired",
                    400,
                    "The security token you provided has expired.",
                )
            credentials, account = grant.credentials, grant.account
        if credentials is None:
            raise _error(request_id, "InvalidAccessKeyId.NotFound")
        signed = set(parsed.signed_headers)
        acs_headers = {
            name.lower() for name in request.headers if name.lower().startswith("x-acs-")
        }
        if "host" not in signed or not acs_headers <= signed:
            raise _error(
                request_id,
                "IncompleteSignature",
                400,
                "host and every x-acs-* header must be signed.",
            )
        action = self._check_protocol(request, body, request_id)
        self._check_token(request, credentials, request_id)
        headers = {name: request.headers.get(name, "") for name in parsed.signed_headers}
        query = signing.canonical_query(dict(request.query))
        canonical, _ = signing.canonical_request(
            request.method, request.path, query, headers, hashlib.sha256(body).hexdigest()
        )
        expected = signing.signature(credentials.access_key_secret.reveal(), canonical)
        if not hmac.compare_digest(expected, parsed.signature):
            raise _error(request_id, "SignatureDoesNotMatch")
        return account, action

    def _check_protocol(self, request: web.Request, body: bytes, request_id: str) -> Action:
        headers = request.headers
        try:
            action = Action(headers.get("x-acs-action", ""))
        except ValueError:
            raise _error(
                request_id, "InvalidAction.NotFound", 404, "Specified api is not found."
            ) from None
        if headers.get("x-acs-version") != API_VERSION:
            raise _error(request_id, "InvalidVersion", 400, "Specified version is not valid.")
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            raise _error(request_id, "ContentSHA256NotMatched", 400, "Body hash does not match.")
        try:
            stamp = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise _error(
                request_id, "InvalidTimeStamp.Format", 400, "x-acs-date is not a UTC timestamp."
            ) from None
        now = self._wall_clock()
        if abs(stamp.replace(tzinfo=UTC).timestamp() - now) > MAX_CLOCK_SKEW_S:
            raise _error(request_id, "InvalidTimeStamp.Expired", 400, "x-acs-date is too far off.")
        nonce = headers.get("x-acs-signature-nonce", "")
        while self._nonces and now - next(iter(self._nonces.values())) >= MAX_CLOCK_SKEW_S:
            self._nonces.popitem(last=False)
        if not nonce or nonce in self._nonces:
            raise _error(request_id, "SignatureNonceUsed", 400, "The nonce has been used.")
        self._nonces[nonce] = now
        return action

    def _check_token(self, request: web.Request, credentials: Credentials, request_id: str) -> None:
        sent = request.headers.get("x-acs-security-token")
        wanted = credentials.security_token
        if wanted is None and sent is None:
            return
        if wanted is None or sent is None or not hmac.compare_digest(sent, wanted.reveal()):
            raise _error(
                request_id, "InvalidSecurityToken.Mismatch", 400, "The security token is invalid."
            )

    def _throttle(self, account: str, action: Action, request_id: str) -> None:
        # Alibaba's quota is per API per account: each action has a window of its own.
        window = self._windows.setdefault((account, action), SlidingWindow(self.qps))
        wait = window.admit(self._clock())
        if wait is not None:
            raise _error(request_id, "Throttling.User", retry_after_ms=max(1, round(wait * 1000)))

    async def _respond(
        self, request: web.Request, account: str, action: Action, request_id: str
    ) -> web.StreamResponse:
        query = request.query
        page = page_index(query.get("Page")) if action is Action.LIST_FLOW else None
        call = Call(action, query.get("FlowId", ""), page)
        for rule in self.rules:
            if not rule.take(call, self._rng):
                continue
            if rule.fault.name != "latency":
                return self._misbehave(call, rule.fault, request_id)
            # Latency delays the answer and lets later rules still decide what it is.
            await asyncio.sleep(float(rule.fault.argument))
        if action is Action.LIST_FLOW:
            return self._list_flow(query, request_id)
        if action is Action.GET_FLOW:
            return self._get_flow(query, account, request_id)
        return self._preview(query, account, request_id)

    def _preview(
        self, query: Mapping[str, str], account: str, request_id: str
    ) -> web.StreamResponse:
        flow_id = query.get("FlowId", "")
        if not flow_id:
            raise _error(request_id, "InvalidParameter", 400, "FlowId is mandatory.")
        url, expires_ms = self._link(account, query.get("CustSpaceId", ""), flow_id)
        return _ok(request_id, _preview_data(flow_id, url, expires_ms))

    def _list_flow(self, query: Mapping[str, str], request_id: str) -> web.StreamResponse:
        space = _required(query, "CustSpaceId", request_id)
        try:
            index, size = read_page(query.get("Page"))
        except ValueError as exc:
            raise _error(request_id, "InvalidParameter", 400, str(exc)) from None
        return _ok(request_id, self._spaces.page(space, query.get("FlowName", ""), index, size))

    def _get_flow(
        self, query: Mapping[str, str], account: str, request_id: str
    ) -> web.StreamResponse:
        flow_id = _required(query, "FlowId", request_id)
        space = _required(query, "CustSpaceId", request_id)
        state = self._spaces.find(space, flow_id)
        if state is None:
            raise _error(request_id, "Flow.NotFound")
        return _ok(request_id, details(state, *self._link(account, space, flow_id)))

    def _misbehave(self, call: Call, fault: Fault, request_id: str) -> web.StreamResponse:
        if fault.name == "drop":
            raise _Drop
        if fault.name == "malformed":
            return web.Response(
                status=200, text='{"Code": "OK", "Data": {', headers=_outcome("malformed")
            )
        if fault.name == "http":
            return web.Response(
                status=int(fault.argument),
                text="<html><body>gateway error</body></html>",
                content_type="text/html",
                headers=_outcome(f"http:{fault.argument}"),
            )
        if fault.name == "throttle":
            raise _error(
                request_id,
                "Throttling.User",
                retry_after_ms=int(fault.argument) if fault.argument else None,
            )
        if fault.name == "insecure-url":
            url = f"http://example.invalid/flows/{quote(call.flow_id, safe='')}/preview"
            expires_ms = int((self._wall_clock() + 3600) * 1000)
            return _ok(request_id, _preview_data(call.flow_id, url, expires_ms))
        raise _error(request_id, fault.argument, denied=call.action)

    def _link(self, account: str, space: str, flow_id: str) -> tuple[str, int]:
        key = (account, space, flow_id)
        now_ms = int(self._wall_clock() * 1000)
        link = self._links.get(key)
        if link is None or link[1] <= now_ms:
            token = hmac.new(
                self._link_secret, f"{account}\0{space}\0{flow_id}\0{now_ms}".encode(), "sha256"
            ).hexdigest()[:32]
            url = f"{PREVIEW_BASE}/{quote(flow_id, safe='')}/preview/?token={token}"
            link = (url, now_ms + int(self.link_ttl * 1000))
            self._links[key] = link
            if len(self._links) > MAX_LINKS:
                self._links.popitem(last=False)
        return link


def _controlled(change: Callable[[], FlowState]) -> web.Response:
    """The control route's answer: the flow's state after `change`, or why there is none."""
    try:
        state = change()
    except UnknownFlowError as exc:
        return web.json_response({"error": str(exc)}, status=404)
    except AmbiguousFlowError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(state.as_json())


def _outcome(name: str) -> dict[str, str]:
    return {"x-emulator-outcome": name}


def _ok(request_id: str, data: Any) -> web.Response:
    body = {
        "RequestId": request_id,
        "Code": "OK",
        "Message": "OK",
        "AccessDeniedDetail": "",
        "Data": data,
    }
    return web.json_response(body, headers={"x-acs-request-id": request_id})


def _preview_data(flow_id: str, url: str, expires_ms: int) -> _Json:
    return {"FlowId": flow_id, "PreviewUrl": url, "PreviewUrlExpires": expires_ms}


def _required(query: Mapping[str, str], name: str, request_id: str) -> str:
    """The value of a mandatory parameter, or the answer Alibaba's gateway gives without it."""
    value = query.get(name, "")
    if not value:
        raise _error(
            request_id,
            "MissingParameter",
            400,
            f'The input parameter "{name}" that is mandatory for processing this request '
            "is not supplied.",
        )
    return value


def _error(
    request_id: str,
    code: str,
    status: int | None = None,
    message: str | None = None,
    *,
    retry_after_ms: int | None = None,
    denied: Action | None = None,
) -> _Answer:
    known_status, known_message = KNOWN_ERRORS.get(code, (400, f"{code} (injected)"))
    body: _Json = {
        "RequestId": request_id,
        "Code": code,
        "Message": message or known_message,
        "HostId": "cams.emulator",
    }
    if code == "Ram.PermissionDeny" and denied is not None:
        body["AccessDeniedDetail"] = json.dumps(
            {
                "AuthAction": denied.ram_action,
                "PolicyType": "AccountLevelIdentityBasedPolicy",
            }
        )
    headers = {"x-acs-request-id": request_id, **_outcome(code)}
    if retry_after_ms is not None:
        headers["x-acs-retry-after"] = str(retry_after_ms)
    return _Answer(web.json_response(body, status=status or known_status, headers=headers))
