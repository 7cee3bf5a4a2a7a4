"""The asyncio client for CAMS: GetFlowPreviewUrl, ListFlow and GetFlow, each call signed,
bounded, rate-limited and retried alike, on one session."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import secrets
import ssl
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Protocol, TypeVar

import aiohttp
from yarl import URL

from bot import __version__
from bot.cams import signing
from bot.cams.actions import Action
from bot.cams.credentials import Credentials, CredentialsError, CredentialSource, StaticSource
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowDetails, FlowPage, FlowPreview
from bot.cams.response import Answer, clean_text, flow_details, flow_page, preview, read_answer
from bot.cams.retry import RetryPolicy
from bot.cams.settings import CamsSettings
from bot.errors import FlowpreviewError
from bot.lifecycle import AsyncCloseable
from bot.metrics import CAMS_CALLS, CAMS_CODES, CAMS_RETRIES, CAMS_THROTTLED

API_VERSION = "2020-06-06"
USER_AGENT = f"flowpreview/{__version__} aiohttp/{aiohttp.__version__}"
# A single flow's answer is a few hundred bytes; anything this large is not CAMS talking.
MAX_BODY_BYTES = 1 << 20
# A page of MAX_PAGE_SIZE flows is some 20 KB, and under 1 MB even with names of a thousand
# escaped characters; 4 MiB leaves room for fields CAMS may add, and is still bounded.
MAX_PAGE_BODY_BYTES = 4 << 20
MAX_PARAMETER_LENGTH = 1024
# The largest ListFlow page this client asks for: no larger Size is documented.
MAX_PAGE_SIZE = 100
# 100,000 pages of MAX_PAGE_SIZE is ten million flows: far beyond any catalog.
MAX_PAGE_INDEX = 100_000

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]
T = TypeVar("T")


class AttemptGate(Protocol):
    """Admits every upstream attempt, retries included: the interface of the rate limiters.

    `account` is the key of one budget: an account's calls of one action
    (`CamsClient.budget_key`), since Alibaba counts each action's calls apart.
    """

    async def admit(self, account: str, within: float) -> float:
        """Return when `account` may make one call, at most `within` seconds from now.

        Raise at once, booking nothing, to refuse: a slot granted after the caller's deadline
        would be a slot spent on nothing.

        Returns the latest event-loop time at which the call may still go out: a call sent
        later than its slot allows could reach CAMS inside a later slot's second.
        """

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        """CAMS answered `account` with throttling; `retry_after` is its hint in seconds.

        Called from the task whose attempt it was. Returns the hint as the gate honours it
        (capped at its longest pause), which is what the caller is told; None stays None.
        """

    def settled(self, account: str) -> None:
        """The calling task's attempt got any outcome but throttling (or was abandoned).

        After a pause the gate lets one attempt probe; this tells it the probe passed.
        """

    async def missed(self, account: str) -> None:
        """The calling task's slot passed before its call could go out: nothing was sent.

        A probe that missed learnt nothing, so the gate lets the next slot probe instead.
        """


class _OpenGate:
    async def admit(self, account: str, within: float) -> float:
        return math.inf

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        return retry_after

    def settled(self, account: str) -> None:
        return None

    async def missed(self, account: str) -> None:
        return None


# The latest loop time at which the current task's attempt may be written to the wire.
_send_by: ContextVar[float] = ContextVar("send_by", default=math.inf)


class _MissedSlotError(FlowpreviewError):
    """The attempt was ready to go out only after its slot had passed; nothing was sent."""

    def __init__(self, late: float) -> None:
        super().__init__(f"ready {late:.3f}s after the slot allowed")


class _PunctualRequest(aiohttp.ClientRequest):
    """A request that checks its slot once its connection is ready, just before writing.

    Opening a connection (TCP, TLS) and a busy event loop can delay a call well past its
    slot; sent anyway, it would reach CAMS inside the second of a later, punctual slot.
    """

    async def send(self, conn: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        late = asyncio.get_running_loop().time() - _send_by.get()
        if late > 0:
            # Back to the pool: the connection is ready and the next slot can use it.
            conn.release()
            raise _MissedSlotError(late)
        return await super().send(conn)


def validate_parameter(name: str, value: str, action: Action | None = None) -> None:
    """Refuse, before any network call, a value CAMS could only reject or misread."""
    problem = None
    if not value:
        problem = "is empty"
    elif len(value) > MAX_PARAMETER_LENGTH:
        problem = f"is longer than {MAX_PARAMETER_LENGTH} characters"
    elif any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        # Cc: C0, DEL and C1 controls; Cs: lone surrogates, which cannot be UTF-8 encoded.
        problem = "contains control characters or invalid text"
    if problem:
        raise CamsError(ErrorKind.BAD_REQUEST, f"{name} {problem}", action=action)


def page_parameter(index: int, size: int) -> str:
    """ListFlow's Page as the official SDK sends it: compact JSON, Index before Size."""
    return json.dumps({"Index": index, "Size": size}, separators=(",", ":"))


def action_budget_key(account: str, action: Action) -> str:
    """The key of `account`'s budget for `action`: Alibaba's quota is per action per account.

    The shared limiter puts it, as it stands, in its Redis keys: whatever text an AccessKey ID
    holds, the keys of one budget share their hash tag (one cluster slot, as its scripts need)
    and never meet another budget's.
    """
    return f"{account}:{action.value}"


class CamsClient(AsyncCloseable):
    """Calls GetFlowPreviewUrl, ListFlow and GetFlow for one Alibaba account.

    One instance per process serves every caller: it holds one aiohttp session (its own, or
    one passed in), and it is safe to use from many tasks at once. Every attempt of an action
    passes that action's gate, under `budget_key(action)`; without gates nothing is limited.
    Each attempt is signed with what the credential source holds at that moment (bare
    Credentials are a static source); the client owns the source and closes it.
    Clocks, the sleeper and the jitter source are injectable so that tests control time.
    """

    def __init__(
        self,
        credentials: Credentials | CredentialSource,
        settings: CamsSettings,
        *,
        session: aiohttp.ClientSession | None = None,
        gates: Mapping[Action, AttemptGate] | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
        rng: Clock = random.random,
    ) -> None:
        if gates is not None and (missing := [a.value for a in Action if a not in gates]):
            # An action left out would call unlimited: a gate for each, or none at all.
            raise ValueError(f"no gate for {', '.join(missing)}")
        self._source: CredentialSource = (
            StaticSource(credentials) if isinstance(credentials, Credentials) else credentials
        )
        self._settings = settings
        self._session = session
        self._owns_session = session is None
        self._closed = False
        self._gates: Mapping[Action, AttemptGate] = gates or dict.fromkeys(Action, _OpenGate())
        self._sleep = sleep
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = rng
        self._retry = RetryPolicy(max_attempts=settings.max_attempts, deadline=settings.deadline)

    @property
    def account(self) -> str:
        """The key every cache entry of this client is filed under: the source's stable account
        identity, which refreshed credentials do not change."""
        return self._source.account

    @property
    def source(self) -> CredentialSource:
        """Where the credentials come from (`source.provider` names it for the logs)."""
        return self._source

    def budget_key(self, action: Action) -> str:
        """The key `action`'s gate files this account's calls under."""
        return action_budget_key(self.account, action)

    def space_for(self, space: str | None) -> str | None:
        """The CustSpaceId a call with `space` uses: the configured default when None."""
        return space if space is not None else self._settings.default_space

    async def close(self) -> None:
        """Close the session if this client opened it, and the credential source; later calls
        fail as network errors."""
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
        await self._source.close()

    async def get_flow_preview_url(self, flow_id: str, space: str | None = None) -> FlowPreview:
        """Fetch the preview link of `flow_id` in `space` (default: the configured space).

        Raises CamsError for every outcome other than a preview, after retrying what may
        succeed later.
        """
        return await self._call(
            Action.GET_FLOW_PREVIEW_URL,
            self._flow_parameters(flow_id, space),
            lambda answer: preview(flow_id, answer),
            f"flow {flow_id!r}",
        )

    async def list_flows(
        self,
        space: str | None = None,
        *,
        name: str | None = None,
        page: int = 1,
        size: int = MAX_PAGE_SIZE,
    ) -> FlowPage:
        """Page `page` (from 1) of the flows in `space` (default: the configured space),
        `size` flows at most; with `name`, only the flows CAMS matches to it.

        A page shorter than `size` is the last one. Raises CamsError as every call does, and
        BAD_REQUEST at once when there is no space to list or the page is out of bounds.
        """
        action = Action.LIST_FLOW
        space = self.space_for(space)
        if space is None:
            raise CamsError(ErrorKind.BAD_REQUEST, "ListFlow needs a CustSpaceId", action=action)
        for label, value, most in (("Index", page, MAX_PAGE_INDEX), ("Size", size, MAX_PAGE_SIZE)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
                problem = f"Page.{label} must be a whole number from 1 to {most}, not {value!r}"
                raise CamsError(ErrorKind.BAD_REQUEST, problem, action=action)
        params = {"CustSpaceId": space, "Page": page_parameter(page, size)}
        if name:
            # An empty FlowName lists every flow, as none does.
            params["FlowName"] = name
        return await self._call(
            action,
            params,
            lambda answer: flow_page(answer, size),
            f"page {page} of space {space!r}",
        )

    async def get_flow(
        self, flow_id: str, space: str | None = None, *, yield_within: float | None = None
    ) -> FlowDetails:
        """The name, status and categories of `flow_id` in `space` (default: the configured
        space). Raises CamsError as every call does.

        `yield_within`: a call that can wait (a background poll) takes a slot of the budget only
        if one is free within this many seconds, and is refused with BusyError otherwise,
        booking nothing: it never queues ahead of a person's lookup.
        """
        return await self._call(
            Action.GET_FLOW,
            self._flow_parameters(flow_id, space),
            lambda answer: flow_details(flow_id, answer),
            f"flow {flow_id!r}",
            yield_within=yield_within,
        )

    def _flow_parameters(self, flow_id: str, space: str | None) -> dict[str, str]:
        params = {"FlowId": flow_id}
        space = self.space_for(space)
        if space is not None:
            params["CustSpaceId"] = space
        return params

    async def _call(
        self,
        action: Action,
        params: Mapping[str, str],
        interpret: Callable[[Answer], T],
        subject: str,
        *,
        yield_within: float | None = None,
    ) -> T:
        """Call `action` with `params` until `interpret` yields its result, or raise CamsError.

        Every attempt passes the action's gate, waiting for its slot at most `yield_within`
        seconds when given; what may succeed later is retried with fresh signatures, within
        the retry policy. `subject` names the call in log lines.
        """
        for name, value in params.items():
            validate_parameter(name, value, action)
        query = signing.canonical_query(params)
        gate = self._gates[action]
        key = self.budget_key(action)
        started = self._clock()

        def time_left() -> float:
            return self._settings.deadline - (self._clock() - started)

        attempt = 0
        while True:
            attempt += 1
            within = time_left() if yield_within is None else min(time_left(), yield_within)
            send_by = await gate.admit(key, within)
            token = _send_by.set(send_by)
            try:
                answer = await self._reported_attempt(gate, key, action, query, time_left())
                return interpret(answer)
            except _MissedSlotError as missed:
                # Nothing reached CAMS: not an attempt, and the next slot is booked at once.
                log.info(
                    "CAMS %s call for %s missed its slot (%s); booking another",
                    action,
                    subject,
                    missed,
                    extra=_log_fields(params),
                )
                attempt -= 1
                continue
            except CamsError as error:
                error.action = action
                elapsed = self._clock() - started
                delay = self._retry.delay_before_retry(error, attempt, elapsed, self._rng)
                if delay is None or self._closed:
                    # Closed for shutdown: another attempt could only fail the same way.
                    raise
                log.warning(
                    "CAMS %s attempt %d for %s failed (%s); retrying in %.2fs",
                    action,
                    attempt,
                    subject,
                    error,
                    delay,
                    extra=_log_fields(params, error.request_id),
                )
                CAMS_RETRIES.labels(action).inc()
                await self._sleep(delay)
            finally:
                _send_by.reset(token)

    async def _reported_attempt(
        self, gate: AttemptGate, key: str, action: Action, query: str, time_left: float
    ) -> Answer:
        """One admitted attempt, whose outcome `gate` hears: missed, throttled, or settled."""
        heard = False
        try:
            answer = await self._attempt(action, query, time_left)
        except _MissedSlotError:
            # Not an answer: a probe that missed its slot has learnt nothing.
            heard = True
            await gate.missed(key)
            raise
        except CamsError as error:
            # A failure with no Code (a network error, a gateway's page) counts by its kind.
            CAMS_CALLS.labels(action, CAMS_CODES(error.code or error.kind.value)).inc()
            if error.kind is ErrorKind.THROTTLED:
                CAMS_THROTTLED.labels(action).inc()
                heard = True
                error.retry_after = await gate.throttled(key, error.retry_after)
            raise
        finally:
            if not heard:
                gate.settled(key)
        CAMS_CALLS.labels(action, "OK").inc()
        return answer

    async def _attempt(self, action: Action, query: str, time_left: float) -> Answer:
        if time_left <= 0:
            raise CamsError(ErrorKind.NETWORK, "gave up: the overall deadline passed")
        endpoint = self._settings.endpoint
        url = URL(f"{endpoint.base_url}/?{query}", encoded=True)
        timeout = aiohttp.ClientTimeout(
            total=min(self._settings.attempt_timeout, time_left),
            sock_connect=self._settings.connect_timeout,
        )
        limit = MAX_PAGE_BODY_BYTES if action is Action.LIST_FLOW else MAX_BODY_BYTES
        session = self._session_for_call()
        headers = self._headers(action, query, await self._signing_credentials())
        try:
            async with session.post(
                url, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                body = await _read_bounded(response, limit)
                return read_answer(response.status, response.headers, body)
        except TimeoutError:
            raise CamsError(
                ErrorKind.NETWORK, f"no answer from {endpoint.host} within {timeout.total:g}s"
            ) from None
        except aiohttp.ClientError as exc:
            raise CamsError(
                ErrorKind.NETWORK, f"cannot reach {endpoint.host}: {_network_problem(exc)}"
            ) from None

    async def _signing_credentials(self) -> Credentials:
        """What the source holds now; CamsError when it has nothing usable."""
        try:
            return await self._source.current()
        except CredentialsError as error:
            # Not retried here: the source already waited for its own attempt, and retries
            # with backoff in the background.
            raise CamsError(
                ErrorKind.AUTH_FAILED, f"no usable Alibaba Cloud credentials: {error}"
            ) from None

    def _headers(self, action: Action, query: str, credentials: Credentials) -> dict[str, str]:
        signed = {
            "host": self._settings.endpoint.host_header,
            "x-acs-action": action.value,
            "x-acs-version": API_VERSION,
            "x-acs-date": datetime.fromtimestamp(self._wall_clock(), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "x-acs-signature-nonce": secrets.token_hex(16),
            "x-acs-content-sha256": signing.EMPTY_BODY_SHA256,
        }
        token = credentials.security_token
        if token is not None:
            signed["x-acs-security-token"] = token.reveal()
        authorization = signing.authorization(
            access_key_id=credentials.access_key_id,
            secret=credentials.access_key_secret.reveal(),
            method="POST",
            path="/",
            query=query,
            headers=signed,
        )
        return {**signed, "Authorization": authorization, "Accept": "application/json"}

    def _session_for_call(self) -> aiohttp.ClientSession:
        if self._closed:
            raise CamsError(ErrorKind.NETWORK, "the CAMS client is closed (shutting down)")
        if self._session is None:
            ca_file = self._settings.ca_file
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=64,
                    ttl_dns_cache=300,
                    ssl=ssl.create_default_context(cafile=ca_file) if ca_file else True,
                ),
                headers={"User-Agent": USER_AGENT},
                skip_auto_headers=("Content-Type",),
                request_class=_PunctualRequest,
            )
        return self._session


def _log_fields(params: Mapping[str, str], request_id: str | None = None) -> dict[str, str | None]:
    """The log context fields (bot.logs) a call's line carries: its flow, space and RequestId."""
    return {
        "flow": params.get("FlowId"),
        "space": params.get("CustSpaceId"),
        "request_id": request_id,
    }


def _network_problem(exc: aiohttp.ClientError) -> str:
    """What went wrong, without the request: aiohttp's reprs can carry its signed headers."""
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"{type(exc).__name__} ({exc.os_error.strerror or 'connection failed'})"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"{type(exc).__name__} (HTTP {exc.status}: {clean_text(exc.message)})"
    return type(exc).__name__


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise CamsError(
                ErrorKind.MALFORMED_RESPONSE,
                f"answer larger than {limit} bytes",
                http_status=response.status,
            )
        chunks.append(chunk)
    return b"".join(chunks)
