"""The CAMS client against the emulator over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import socket
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme

from bot.cams import signing
from bot.cams.actions import Action
from bot.cams.client import MAX_PAGE_BODY_BYTES, CamsClient
from bot.cams.credentials import Credentials
from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowStatus, FlowSummary
from bot.cams.retry import RetryPolicy
from bot.cams.settings import CamsSettings
from bot.config import Endpoint, Secret
from bot.preview.errors import BusyError
from bot.preview.limiter import LimiterSettings, LocalLimiter
from bot.standin.cams.catalog import SeededFlow
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import STS_CREDENTIALS, RunningEmulator, running_emulator
from tests.fake_clock import FakeClock
from tests.support import DATA


@pytest.mark.dates
async def test_success_yields_a_typed_preview(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        preview = await client.get_flow_preview_url("1234567890123456")

    assert preview.flow_id == "1234567890123456"
    assert preview.preview_url.startswith("https://business.facebook.com/wa/manage/flows/")
    assert preview.expires_at.tzinfo is UTC
    assert timedelta(days=29) < preview.expires_at - datetime.now(UTC) <= timedelta(days=30)
    assert preview.request_id


@pytest.mark.parametrize(
    ("flow_id", "space"),
    [
        ("a b*c~d+e", "cams-8c8x9l****"),
        ("流程-ñ-🙂", "空间 1"),
        ("a/b?c=d&e%f#g;h,i:j@k$l!m'n(o)p[q]r", None),
    ],
)
async def test_query_goes_on_the_wire_exactly_as_signed(
    cams: RunningEmulator, flow_id: str, space: str | None
) -> None:
    async with cams.client() as client:
        preview = await client.get_flow_preview_url(flow_id, space)

    params = {"FlowId": flow_id} | ({"CustSpaceId": space} if space else {})
    (recorded,) = cams.emulator.recorded
    assert recorded.raw_path == "/?" + signing.canonical_query(params)
    assert recorded.outcome == "OK"
    assert preview.flow_id == flow_id


async def test_request_headers(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        await client.get_flow_preview_url("1")

    headers = {k.lower(): v for k, v in cams.emulator.recorded[0].headers.items()}
    assert "content-type" not in headers
    assert headers["x-acs-action"] == "GetFlowPreviewUrl"
    assert headers["x-acs-version"] == "2020-06-06"
    assert headers["x-acs-content-sha256"] == signing.EMPTY_BODY_SHA256
    assert "x-acs-security-token" not in headers
    parsed = signing.parse_authorization(headers["authorization"])
    assert parsed is not None
    assert parsed.access_key_id == DEMO_CREDENTIALS.access_key_id
    assert {"host", "x-acs-date", "x-acs-signature-nonce"} <= set(parsed.signed_headers)


async def test_sts_token_is_sent_and_signed(cams: RunningEmulator) -> None:
    async with cams.client(STS_CREDENTIALS) as client:
        await client.get_flow_preview_url("1")

    headers = {k.lower(): v for k, v in cams.emulator.recorded[0].headers.items()}
    assert STS_CREDENTIALS.security_token is not None
    assert headers["x-acs-security-token"] == STS_CREDENTIALS.security_token.reveal()
    parsed = signing.parse_authorization(headers["authorization"])
    assert parsed is not None
    assert "x-acs-security-token" in parsed.signed_headers
    assert cams.outcomes() == ["OK"]


async def test_wrong_sts_token_is_rejected(cams: RunningEmulator) -> None:
    forged = Credentials(
        STS_CREDENTIALS.access_key_id, STS_CREDENTIALS.access_key_secret, Secret("x")
    )
    async with cams.client(forged) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
    assert caught.value.kind is ErrorKind.AUTH_FAILED


async def test_configured_space_is_the_default_and_a_call_may_override_it(
    cams: RunningEmulator,
) -> None:
    async with cams.client(settings=cams.settings(default_space="space-a")) as client:
        await client.get_flow_preview_url("1")
        await client.get_flow_preview_url("1", "space-b")

    paths = [r.raw_path for r in cams.emulator.recorded]
    assert paths == ["/?CustSpaceId=space-a&FlowId=1", "/?CustSpaceId=space-b&FlowId=1"]


# Each documented answer, the kind callers branch on, and whether it is worth retrying.
ERROR_CASES = [
    ("error:Product.Unsubscript", ErrorKind.NOT_SUBSCRIBED, 400),
    ("error:Ram.PermissionDeny", ErrorKind.PERMISSION_DENIED, 400),
    ("error:Unknown.ResourceOwnerId", ErrorKind.WRONG_OWNER, 400),
    ("error:InvalidParameter", ErrorKind.BAD_REQUEST, 400),
    ("error:Flow.NotFound", ErrorKind.NOT_FOUND, 404),
    ("error:SignatureDoesNotMatch", ErrorKind.AUTH_FAILED, 400),
    ("error:InvalidAccessKeyId.NotFound", ErrorKind.AUTH_FAILED, 404),
    ("error:System.LimitControl", ErrorKind.THROTTLED, 400),
    ("error:Throttling.User", ErrorKind.THROTTLED, 400),
    ("error:Throttling.Api", ErrorKind.THROTTLED, 400),
    ("throttle", ErrorKind.THROTTLED, 400),
    ("error:ServiceUnavailable", ErrorKind.SERVER_ERROR, 503),
    ("error:InternalError", ErrorKind.SERVER_ERROR, 500),
    ("http:502", ErrorKind.SERVER_ERROR, 502),
    ("http:500", ErrorKind.SERVER_ERROR, 500),
    ("http:404", ErrorKind.NOT_FOUND, 404),
    ("http:400", ErrorKind.BAD_REQUEST, 400),
    ("http:403", ErrorKind.BAD_REQUEST, 403),
    ("malformed", ErrorKind.MALFORMED_RESPONSE, 200),
    ("insecure-url", ErrorKind.MALFORMED_RESPONSE, 200),
    ("drop", ErrorKind.NETWORK, None),
]


@pytest.mark.parametrize(("fault", "kind", "status"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
async def test_every_error_kind_and_its_retry_policy(
    cams: RunningEmulator, fake_clock: FakeClock, fault: str, kind: ErrorKind, status: int | None
) -> None:
    cams.fault(f"{fault}@flow:broken")
    settings = cams.settings(max_attempts=3)
    async with cams.client(
        settings=settings, sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("broken")

    error = caught.value
    assert error.kind is kind
    assert error.http_status == status
    assert error.action is Action.GET_FLOW_PREVIEW_URL
    expected_calls = 3 if kind.retryable else 1
    assert len(cams.emulator.recorded) == expected_calls
    assert len(fake_clock.sleeps) == expected_calls - 1
    if status is not None and status != 200 and not fault.startswith("http:"):
        assert error.request_id
        assert error.code
        assert error.request_id in str(error)


async def test_permission_denied_carries_the_access_denied_detail(cams: RunningEmulator) -> None:
    cams.fault("error:Ram.PermissionDeny@all")
    async with cams.client() as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
    assert caught.value.access_denied_detail is not None
    assert "cams:GetFlowPreviewUrl" in caught.value.access_denied_detail


async def test_wrong_secret_is_an_auth_failure_and_is_not_retried(cams: RunningEmulator) -> None:
    wrong = Credentials(DEMO_CREDENTIALS.access_key_id, Secret("not-the-secret"))
    async with cams.client(wrong) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
    assert caught.value.kind is ErrorKind.AUTH_FAILED
    assert caught.value.code == "SignatureDoesNotMatch"
    assert cams.outcomes() == ["SignatureDoesNotMatch"]


@pytest.mark.parametrize("fault", ["http:503", "error:ServiceUnavailable", "drop", "throttle"])
async def test_transient_failures_are_retried_until_success(
    cams: RunningEmulator, fake_clock: FakeClock, fault: str
) -> None:
    cams.fault(f"{fault}@flow:flaky*2")
    async with cams.client(sleep=fake_clock.sleep, clock=fake_clock.time) as client:
        preview = await client.get_flow_preview_url("flaky")

    assert preview.flow_id == "flaky"
    assert cams.outcomes()[-1] == "OK"
    assert len(cams.outcomes()) == 3


async def test_every_attempt_is_freshly_signed(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("http:503@all*2")
    async with cams.client(sleep=fake_clock.sleep, clock=fake_clock.time) as client:
        await client.get_flow_preview_url("1")

    nonces = {r.headers["x-acs-signature-nonce"] for r in cams.emulator.recorded}
    assert len(nonces) == 3


@pytest.mark.dates
async def test_dates_follow_the_wall_clock(cams: RunningEmulator) -> None:
    real_now = datetime.now(UTC).timestamp()
    async with cams.client(wall_clock=lambda: real_now + 3600) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
    assert caught.value.code == "InvalidTimeStamp.Expired"
    assert caught.value.kind is ErrorKind.AUTH_FAILED


async def test_backoff_is_exponential_with_full_jitter(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("http:503@all")
    settings = cams.settings(max_attempts=5, deadline=100.0)
    async with cams.client(
        settings=settings, sleep=fake_clock.sleep, clock=fake_clock.time, rng=lambda: 0.999
    ) as client:
        with pytest.raises(CamsError):
            await client.get_flow_preview_url("1")

    assert fake_clock.sleeps == pytest.approx([0.1998, 0.3996, 0.7992, 1.5984])


async def test_jitter_spreads_the_delays(cams: RunningEmulator, fake_clock: FakeClock) -> None:
    cams.fault("http:503@all")
    settings = cams.settings(max_attempts=3, deadline=100.0)
    async with cams.client(
        settings=settings, sleep=fake_clock.sleep, clock=fake_clock.time, rng=lambda: 0.25
    ) as client:
        with pytest.raises(CamsError):
            await client.get_flow_preview_url("1")

    assert fake_clock.sleeps == pytest.approx([0.05, 0.1])


async def test_retry_after_is_honoured(cams: RunningEmulator, fake_clock: FakeClock) -> None:
    cams.fault("throttle:1500@all*1")
    async with cams.client(sleep=fake_clock.sleep, clock=fake_clock.time) as client:
        await client.get_flow_preview_url("1")

    assert fake_clock.sleeps == [1.5]


async def test_retry_after_beyond_the_deadline_gives_up_at_once(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("throttle:60000@all")
    async with cams.client(sleep=fake_clock.sleep, clock=fake_clock.time) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")

    assert caught.value.kind is ErrorKind.THROTTLED
    assert caught.value.retry_after == 60.0
    assert fake_clock.sleeps == []


async def test_the_overall_deadline_bounds_retries(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("throttle:4000@all")
    settings = cams.settings(max_attempts=100, deadline=10.0)
    async with cams.client(
        settings=settings, sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        with pytest.raises(CamsError):
            await client.get_flow_preview_url("1")

    assert fake_clock.sleeps == [4.0, 4.0]
    assert len(cams.outcomes()) == 3


async def test_unreachable_endpoint_is_a_network_error(fake_clock: FakeClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = CamsSettings(Endpoint.parse(f"http://127.0.0.1:{port}"), max_attempts=2)
    async with CamsClient(
        DEMO_CREDENTIALS, settings, sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
    assert caught.value.kind is ErrorKind.NETWORK
    assert "cannot reach 127.0.0.1" in caught.value.message


@pytest.mark.parametrize(
    ("flow_id", "space"),
    [
        ("", None),
        ("12\n34", None),
        ("12\x7f", None),
        ("12\x85", None),
        ("ab\udcff", None),
        ("1" * 1025, None),
        ("1", ""),
        ("1", "a\tb"),
    ],
)
async def test_bad_input_is_refused_before_any_network_call(
    cams: RunningEmulator, flow_id: str, space: str | None
) -> None:
    async with cams.client() as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url(flow_id, space)
    assert caught.value.kind is ErrorKind.BAD_REQUEST
    assert caught.value.request_id is None
    assert cams.emulator.recorded == type(cams.emulator.recorded)()


async def test_no_secret_in_logs_errors_or_reprs(
    cams: RunningEmulator, fake_clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = STS_CREDENTIALS.security_token
    assert token is not None
    secrets = [STS_CREDENTIALS.access_key_secret.reveal(), token.reveal()]
    cams.fault("http:503@all*1", "error:Ram.PermissionDeny@flow:denied")
    async with cams.client(
        STS_CREDENTIALS, sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        await client.get_flow_preview_url("1")
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("denied")
        texts = [
            caplog.text,
            str(caught.value),
            repr(caught.value),
            repr(STS_CREDENTIALS),
            str(STS_CREDENTIALS.access_key_secret),
            repr(client),
            repr(vars(client)),
        ]

    assert "retrying" in caplog.text
    for secret in secrets:
        for text in texts:
            assert secret not in text


async def test_a_shared_session_is_used_and_left_open(cams: RunningEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with cams.client(session=session) as client:
            await client.get_flow_preview_url("1")
        assert not session.closed


async def test_https_endpoint_with_a_private_ca(tmp_path: Path) -> None:
    authority = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)

    async with running_emulator(ssl_context=server_context) as cams:
        settings = CamsSettings(Endpoint.parse(cams.url), ca_file=str(ca_file))
        async with CamsClient(DEMO_CREDENTIALS, settings) as client:
            preview = await client.get_flow_preview_url("1")
        untrusted = CamsSettings(Endpoint.parse(cams.url), max_attempts=1)
        async with CamsClient(DEMO_CREDENTIALS, untrusted) as client:
            with pytest.raises(CamsError) as caught:
                await client.get_flow_preview_url("1")

    assert cams.url.startswith("https://")
    assert preview.flow_id == "1"
    assert caught.value.kind is ErrorKind.NETWORK


async def test_a_garbled_answer_never_puts_a_signed_header_in_the_error(
    fake_clock: FakeClock,
) -> None:
    async def garbled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: nope\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbled, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = CamsSettings(Endpoint.parse(f"http://127.0.0.1:{port}"), max_attempts=1)
    token = STS_CREDENTIALS.security_token
    assert token is not None
    async with (
        server,
        CamsClient(
            STS_CREDENTIALS, settings, sleep=fake_clock.sleep, clock=fake_clock.time
        ) as client,
    ):
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")

    assert caught.value.kind is ErrorKind.NETWORK
    for leaked in (token.reveal()[:8], "Authorization", "x-acs-"):
        assert leaked not in str(caught.value)


async def test_an_absurd_retry_after_is_capped_by_the_gate_and_the_call_goes_on(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("throttle:600000@all*1")
    gate = LocalLimiter(LimiterSettings(cooldown=0.0, max_cooldown=0.2))
    async with cams.client(
        gates=dict.fromkeys(Action, gate), sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        preview = await client.get_flow_preview_url("1")

    assert preview.flow_id == "1"
    assert fake_clock.sleeps == [0.2], "the retry waits the capped pause, not ten minutes"
    assert cams.outcomes() == ["Throttling.User", "OK"]


async def test_a_retry_after_too_long_even_when_capped_is_reported_capped(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("throttle:600000@all")
    gate = LocalLimiter(LimiterSettings(max_cooldown=30.0))
    async with cams.client(
        gates=dict.fromkeys(Action, gate), sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")

    assert caught.value.kind is ErrorKind.THROTTLED
    assert caught.value.retry_after == 30.0
    assert fake_clock.sleeps == [], "30 s is past the 25 s deadline: the call ends at once"


class RecordingGate:
    """An open gate that notes what it hears of each attempt's outcome."""

    def __init__(self) -> None:
        self.heard: list[str] = []
        self.admitted = asyncio.Event()

    async def admit(self, account: str, within: float) -> float:
        self.heard.append("admit")
        self.admitted.set()
        return math.inf

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        self.heard.append("throttled")
        return retry_after

    def settled(self, account: str) -> None:
        self.heard.append("settled")

    async def missed(self, account: str) -> None:
        self.heard.append("missed")


async def test_the_gate_hears_every_attempts_outcome(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("throttle@all*1", "http:503@all*1", "error:Flow.NotFound@flow:gone")
    gate = RecordingGate()
    async with cams.client(
        gates=dict.fromkeys(Action, gate), sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        await client.get_flow_preview_url("1")
        with pytest.raises(CamsError):
            await client.get_flow_preview_url("gone")

    assert gate.heard == [
        *("admit", "throttled"),
        *("admit", "settled"),
        *("admit", "settled"),
        *("admit", "settled"),
    ]


async def test_an_abandoned_attempt_is_settled_so_a_probe_cannot_hold_the_queue(
    cams: RunningEmulator,
) -> None:
    cams.fault("latency:5@all")
    gate = RecordingGate()
    async with cams.client(gates=dict.fromkeys(Action, gate)) as client:
        call = asyncio.create_task(client.get_flow_preview_url("1"))
        await gate.admitted.wait()  # the call is now under way, past its gate
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    assert gate.heard == ["admit", "settled"]


@pytest.mark.parametrize(
    ("retry_after", "delay"),
    [(None, 0.1), (-1.0, 0.1), (0.3, 0.3), (float("nan"), None), (float("inf"), None)],
)
def test_the_retry_delay_never_sleeps_on_an_absurd_retry_after(
    retry_after: float | None, delay: float | None
) -> None:
    error = CamsError(ErrorKind.THROTTLED, "slow down", retry_after=retry_after)
    assert RetryPolicy().delay_before_retry(error, 1, 0.0, lambda: 0.5) == delay


class _LateThenPunctualGate:
    """Grants a first slot that has already passed, then slots that never expire."""

    def __init__(self) -> None:
        self.admits = 0
        self.missed_slots = 0

    async def admit(self, account: str, within: float) -> float:
        self.admits += 1
        loop = asyncio.get_running_loop()
        return loop.time() - 1.0 if self.admits == 1 else loop.time() + 3600

    async def throttled(self, account: str, retry_after: float | None) -> float | None:
        return retry_after

    def settled(self, account: str) -> None:
        return None

    async def missed(self, account: str) -> None:
        self.missed_slots += 1


async def test_a_call_that_missed_its_slot_is_not_sent_and_books_another(
    cams: RunningEmulator,
) -> None:
    gate = _LateThenPunctualGate()
    async with cams.client(
        settings=cams.settings(max_attempts=1), gates=dict.fromkeys(Action, gate)
    ) as client:
        preview = await client.get_flow_preview_url("1")

    assert preview.flow_id == "1"
    assert gate.admits == 2, "the missed slot was given up and another booked"
    assert gate.missed_slots == 1, "the gate heard of the missed slot"
    assert cams.emulator.stats()["received"] == 1, "the late call never reached CAMS"


# ListFlow and GetFlow: the same attempt loop, signer, retry policy and session.

DEMO_SPACE = "cams-demo"
DEMO_FLOW = "1234567890123456"
FLOW_VECTORS: dict[str, Any] = json.loads(
    (DATA / "cams-flow-signing-vectors.json").read_text(encoding="utf-8")
)


def _catalog(space: str, count: int, name: str = "") -> dict[str, list[SeededFlow]]:
    flows = [
        SeededFlow(FlowSummary(str(10**15 + i), f"{name}{i}", ("OTHER",)), FlowStatus.DRAFT)
        for i in range(count)
    ]
    return {space: flows}


async def _call(client: CamsClient, action: Action, flow_id: str = DEMO_FLOW) -> object:
    """One call of `action` in the demo space."""
    if action is Action.LIST_FLOW:
        return await client.list_flows(DEMO_SPACE)
    if action is Action.GET_FLOW:
        return await client.get_flow(flow_id, DEMO_SPACE)
    return await client.get_flow_preview_url(flow_id, DEMO_SPACE)


async def test_list_flows_pages_until_a_short_page() -> None:
    async with running_emulator(catalog=_catalog("space-x", 5)) as cams, cams.client() as client:
        pages = [await client.list_flows("space-x", page=n, size=2) for n in (1, 2, 3, 4)]

    assert [len(page.flows) for page in pages] == [2, 2, 1, 0]
    listed = [flow.flow_id for page in pages for flow in page.flows]
    assert listed == [str(10**15 + i) for i in range(5)]
    assert all(page.request_id for page in pages)
    assert cams.emulator.recorded[0].raw_path == (
        "/?CustSpaceId=space-x&Page=%7B%22Index%22%3A1%2C%22Size%22%3A2%7D"
    )


async def test_list_flows_sends_what_the_sdk_signed(cams: RunningEmulator) -> None:
    (vector,) = [
        v
        for v in FLOW_VECTORS["direct_signer_vectors"]
        if v["name"] == "direct_list_flow_minimal_headers"
    ]
    query = vector["request"]["query"]
    page = json.loads(query["Page"])
    async with cams.client() as client:
        await client.list_flows(
            query["CustSpaceId"], name=query["FlowName"], page=page["Index"], size=page["Size"]
        )

    (recorded,) = cams.emulator.recorded
    assert recorded.raw_path == "/?" + signing.canonical_query(query)
    assert recorded.outcome == "OK"


@pytest.mark.parametrize("name", [None, ""])
async def test_without_a_name_every_flow_is_listed(cams: RunningEmulator, name: str | None) -> None:
    async with cams.client() as client:
        page = await client.list_flows(DEMO_SPACE, name=name)
    assert "FlowName" not in cams.emulator.recorded[0].raw_path
    assert len(page.flows) > 10


async def test_a_name_narrows_the_list(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        page = await client.list_flows(DEMO_SPACE, name="Sign")
    assert page.flows
    assert all("sign" in flow.name.lower() for flow in page.flows)


async def test_list_flows_uses_the_configured_space(cams: RunningEmulator) -> None:
    async with cams.client(settings=cams.settings(default_space=DEMO_SPACE)) as client:
        page = await client.list_flows()
    assert page.flows
    assert cams.emulator.recorded[0].raw_path.startswith(f"/?CustSpaceId={DEMO_SPACE}&")


async def test_a_large_page_is_read_and_a_huge_one_refused() -> None:
    # 100 flows of 15,000-character names: a 1.5 MB page, beyond a single answer's bound.
    large = _catalog("large", 100, name="x" * 15_000)
    huge = _catalog("huge", 100, name="x" * 45_000)
    async with running_emulator(catalog=large | huge) as cams, cams.client() as client:
        page = await client.list_flows("large")
        with pytest.raises(CamsError) as caught:
            await client.list_flows("huge")

    assert len(page.flows) == 100
    assert all(len(flow.name) <= 500 for flow in page.flows)
    assert caught.value.kind is ErrorKind.MALFORMED_RESPONSE
    assert f"larger than {MAX_PAGE_BODY_BYTES} bytes" in caught.value.message
    assert caught.value.action is Action.LIST_FLOW


async def test_get_flow_gives_name_status_and_categories(cams: RunningEmulator) -> None:
    async with cams.client(settings=cams.settings(default_space=DEMO_SPACE)) as client:
        details = await client.get_flow(DEMO_FLOW)

    assert details.flow_id == DEMO_FLOW
    assert details.name == "Sign-up v3"
    assert details.status is FlowStatus.PUBLISHED
    assert details.categories == ("SIGN_UP",)
    assert details.request_id
    assert cams.emulator.recorded[0].raw_path == f"/?CustSpaceId={DEMO_SPACE}&FlowId={DEMO_FLOW}"


async def test_a_yielding_get_flow_takes_only_a_free_slot_and_books_nothing_else(
    cams: RunningEmulator,
) -> None:
    gate = LocalLimiter(LimiterSettings(rate=1, period=60.0, max_wait=120.0))
    settings = cams.settings(default_space=DEMO_SPACE)
    async with cams.client(settings=settings, gates=dict.fromkeys(Action, gate)) as client:
        first = await client.get_flow(DEMO_FLOW, yield_within=0.05)
        key = client.budget_key(Action.GET_FLOW)
        horizon = gate.horizon(key)
        with pytest.raises(BusyError):
            await client.get_flow(DEMO_FLOW, yield_within=0.05)
        after = gate.horizon(key)

    assert first.flow_id == DEMO_FLOW
    assert after == horizon, "the refused poll booked no slot a person would then wait behind"
    assert gate.queued(key) == 0
    assert cams.emulator.by_action == {Action.GET_FLOW: 1}


async def test_get_flow_of_an_unknown_flow_is_not_found(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow("9999999999999999", DEMO_SPACE)
    assert caught.value.kind is ErrorKind.NOT_FOUND
    assert caught.value.action is Action.GET_FLOW
    assert cams.outcomes() == ["Flow.NotFound"]


@pytest.mark.parametrize("action", list(Action))
async def test_each_action_sends_its_name_and_signs_it(
    cams: RunningEmulator, action: Action
) -> None:
    async with cams.client(STS_CREDENTIALS) as client:
        await _call(client, action)

    (recorded,) = cams.emulator.recorded
    headers = {k.lower(): v for k, v in recorded.headers.items()}
    assert headers["x-acs-action"] == action.value
    assert "content-type" not in headers
    parsed = signing.parse_authorization(headers["authorization"])
    assert parsed is not None
    assert {"x-acs-action", "x-acs-security-token", "host"} <= set(parsed.signed_headers)
    assert recorded.outcome == "OK"


FLOW_ACTIONS = [Action.LIST_FLOW, Action.GET_FLOW]
# The answers that make sense for any action (a link that is not https is a preview's only).
ANY_ACTION_ERRORS = [case for case in ERROR_CASES if case[0] != "insecure-url"]


@pytest.mark.parametrize("action", FLOW_ACTIONS)
@pytest.mark.parametrize("case", ANY_ACTION_ERRORS, ids=[c[0] for c in ANY_ACTION_ERRORS])
async def test_every_error_kind_and_its_retry_policy_for_each_action(
    cams: RunningEmulator,
    fake_clock: FakeClock,
    action: Action,
    case: tuple[str, ErrorKind, int | None],
) -> None:
    fault, kind, status = case
    cams.fault(f"{fault}@action:{action}")
    settings = cams.settings(max_attempts=3)
    async with cams.client(
        settings=settings, sleep=fake_clock.sleep, clock=fake_clock.time
    ) as client:
        with pytest.raises(CamsError) as caught:
            await _call(client, action)

    error = caught.value
    assert (error.kind, error.http_status, error.action) == (kind, status, action)
    assert str(error).startswith(f"{action} | ")
    expected_calls = 3 if kind.retryable else 1
    assert len(cams.emulator.recorded) == expected_calls
    assert {r.action for r in cams.emulator.recorded} == {action.value}
    assert len(fake_clock.sleeps) == expected_calls - 1


@pytest.mark.parametrize("action", FLOW_ACTIONS)
@pytest.mark.parametrize("fault", ["http:503", "error:ServiceUnavailable", "drop", "throttle"])
async def test_each_action_retries_transient_failures_until_success(
    cams: RunningEmulator, fake_clock: FakeClock, action: Action, fault: str
) -> None:
    cams.fault(f"{fault}@action:{action}*2")
    async with cams.client(sleep=fake_clock.sleep, clock=fake_clock.time) as client:
        result = await _call(client, action)

    assert result is not None
    assert cams.outcomes()[-1] == "OK"
    assert len(cams.outcomes()) == 3
    nonces = {r.headers["x-acs-signature-nonce"] for r in cams.emulator.recorded}
    assert len(nonces) == 3, "every attempt is freshly signed"


@pytest.mark.parametrize("action", FLOW_ACTIONS)
async def test_a_denied_action_names_the_ram_action_to_grant(
    cams: RunningEmulator, action: Action
) -> None:
    cams.fault(f"error:Ram.PermissionDeny@action:{action}")
    async with cams.client() as client:
        with pytest.raises(CamsError) as caught:
            await _call(client, action)
        preview = await client.get_flow_preview_url(DEMO_FLOW, DEMO_SPACE)

    error = caught.value
    assert error.kind is ErrorKind.PERMISSION_DENIED
    assert error.action is action
    assert error.access_denied_detail is not None
    assert action.ram_action in error.access_denied_detail
    assert preview.flow_id == DEMO_FLOW, "what is asked by ID still works"


async def test_list_flows_needs_a_space(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        with pytest.raises(CamsError) as caught:
            await client.list_flows()
    assert caught.value.kind is ErrorKind.BAD_REQUEST
    assert caught.value.action is Action.LIST_FLOW
    assert "ListFlow needs a CustSpaceId" in caught.value.message
    assert not cams.emulator.recorded


@pytest.mark.parametrize(
    ("space", "name", "page", "size"),
    [
        ("s", None, 0, 100),
        ("s", None, 1, 0),
        ("s", None, 1, 101),
        ("s", None, 100_001, 100),
        ("s", None, True, 100),
        ("s", None, 1.0, 100),
        ("s", "a\nb", 1, 100),
        ("s", "x" * 1025, 1, 100),
        ("", None, 1, 100),
        ("a\tb", None, 1, 100),
    ],
)
async def test_bad_list_input_is_refused_before_any_network_call(
    cams: RunningEmulator, space: str, name: str | None, page: Any, size: Any
) -> None:
    async with cams.client() as client:
        with pytest.raises(CamsError) as caught:
            await client.list_flows(space, name=name, page=page, size=size)
    assert caught.value.kind is ErrorKind.BAD_REQUEST
    assert caught.value.action is Action.LIST_FLOW
    assert not cams.emulator.recorded


@pytest.mark.parametrize(("flow_id", "space"), [("", None), ("1\n", None), ("1", "a\x00")])
async def test_bad_get_flow_input_is_refused_before_any_network_call(
    cams: RunningEmulator, flow_id: str, space: str | None
) -> None:
    async with cams.client() as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow(flow_id, space)
    assert (caught.value.kind, caught.value.action) == (ErrorKind.BAD_REQUEST, Action.GET_FLOW)
    assert not cams.emulator.recorded


class KeyedGate(RecordingGate):
    """A recording gate that notes the budget keys it is asked about."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    async def admit(self, account: str, within: float) -> float:
        self.keys.add(account)
        return await super().admit(account, within)


async def test_each_action_asks_its_own_gate_under_its_own_budget_key(
    cams: RunningEmulator, fake_clock: FakeClock
) -> None:
    cams.fault("throttle@action:ListFlow*1")
    gates = {action: KeyedGate() for action in Action}
    async with cams.client(gates=gates, sleep=fake_clock.sleep, clock=fake_clock.time) as client:
        await client.list_flows(DEMO_SPACE)
        await client.get_flow(DEMO_FLOW, DEMO_SPACE)
        await client.get_flow_preview_url(DEMO_FLOW, DEMO_SPACE)
        keys = {action: client.budget_key(action) for action in Action}

    account = DEMO_CREDENTIALS.access_key_id
    assert keys == {action: f"{account}:{action}" for action in Action}
    for action, gate in gates.items():
        assert gate.keys == {keys[action]}
    assert gates[Action.LIST_FLOW].heard == ["admit", "throttled", "admit", "settled"]
    assert gates[Action.GET_FLOW].heard == ["admit", "settled"]
    assert gates[Action.GET_FLOW_PREVIEW_URL].heard == ["admit", "settled"]


def test_gates_must_cover_every_action(cams: RunningEmulator) -> None:
    with pytest.raises(ValueError, match="ListFlow, GetFlow"):
        cams.client(gates={Action.GET_FLOW_PREVIEW_URL: RecordingGate()})


def test_an_error_names_its_action() -> None:
    error = CamsError(ErrorKind.THROTTLED, "slow down", code="Throttling.User", request_id="R")
    assert str(error) == "Throttling.User: slow down | RequestId R"
    error.action = Action.LIST_FLOW
    assert str(error) == "ListFlow | Throttling.User: slow down | RequestId R"
    assert "ListFlow" in repr(error)


async def test_a_client_closed_mid_retry_gives_up_instead_of_retrying(
    cams: RunningEmulator,
) -> None:
    cams.fault("http:503@all")

    async def close_while_waiting(delay: float) -> None:
        # Shutdown lands while the client waits to retry.
        await client.close()

    client = cams.client(sleep=close_while_waiting)
    with pytest.raises(CamsError) as caught:
        await client.get_flow_preview_url(DEMO_FLOW)

    assert caught.value.kind is ErrorKind.NETWORK
    assert len(cams.outcomes()) == 1, "one attempt, then the closed client stopped"
