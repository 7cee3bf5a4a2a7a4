"""Refreshing temporary credentials on a controlled clock: before expiry and in the background,
one at a time; failures keep what is in hand, back off and raise the alarm; asks wait only when
nothing usable is in hand, and then only boundedly."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cams.credentials import (
    CredentialsError,
    CredentialSource,
    RefreshingSource,
    credential_source,
)
from bot.cams.credentials.uri import uri_provider
from bot.metrics import REGISTRY
from tests.alibaba_standins import ACCOUNT, Standins, running_standins
from tests.fake_clock import FakeClock, eventually

LIFE_S = 3600.0
REFRESH_S = LIFE_S * 2 / 3


@dataclass
class Rig:
    clock: FakeClock
    standins: Standins
    source: CredentialSource

    @property
    def fetches(self) -> int:
        return self.standins.uri.trouble.counts["request"]


def _failures() -> float:
    return REGISTRY.get_sample_value("flowpreview_credential_refresh_failures_total") or 0.0


def _expiry() -> float | None:
    return REGISTRY.get_sample_value("flowpreview_credentials_expiry_timestamp_seconds")


def _rig(rng: Callable[[], float]) -> Callable[[Path], AsyncIterator[Rig]]:
    async def make(directory: Path) -> AsyncIterator[Rig]:
        clock = FakeClock()
        async with running_standins(directory, clock=clock.time) as standins:
            env = {"ALIBABA_CLOUD_CREDENTIALS_URI": standins.uri_url, "CAMS_ACCOUNT_ID": ACCOUNT}
            source = credential_source(env, clock=clock.time, sleep=clock.sleep, rng=rng)
            try:
                yield Rig(clock, standins, source)
            finally:
                await source.close()

    return make


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for made in _rig(lambda: 1.0)(tmp_path):
        yield made


async def test_credentials_are_refreshed_in_the_background_before_they_expire(rig: Rig) -> None:
    first = await rig.source.current()
    assert first.expires_at == rig.clock.now + LIFE_S
    assert _expiry() == first.expires_at
    assert rig.source.expires_at() == first.expires_at
    assert await rig.clock.next_sleep() == pytest.approx(REFRESH_S)

    rig.standins.uri.trouble.hold()
    rig.clock.advance(REFRESH_S)
    await eventually(lambda: rig.standins.uri.trouble.counts["held"] == 1)
    # The refresh is under way and held back by the server: asks are served from hand, now.
    assert await rig.source.current() is first
    assert await rig.source.current() is first
    rig.standins.uri.trouble.release()

    assert await rig.clock.next_sleep() == pytest.approx(REFRESH_S)
    second = await rig.source.current()
    assert second.access_key_id != first.access_key_id
    assert _expiry() == second.expires_at
    assert rig.fetches == 2
    assert rig.source.account == ACCOUNT


@pytest.mark.parametrize(("jitter", "delays"), [(1.0, [1, 2, 4, 8, 16]), (0.0, [0.5, 1, 2, 4, 8])])
async def test_a_failed_refresh_keeps_the_credentials_backs_off_and_raises_the_alarm(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    jitter: float,
    delays: list[float],
) -> None:
    caplog.set_level(logging.INFO, "bot.cams.credentials")
    async for rig in _rig(lambda: jitter)(tmp_path):
        first = await rig.source.current()
        await rig.clock.next_sleep()
        failures = _failures()
        rig.standins.uri.trouble.fail(503, "ServiceUnavailable")

        rig.clock.advance(REFRESH_S)
        waited = []
        for _ in delays:
            waited.append(await rig.clock.next_sleep())
            assert await rig.source.current() is first
            rig.clock.advance(waited[-1])
        assert waited == delays
        # The sixth ceiling, 32 s, is capped at 30 s before the jitter.
        assert await rig.clock.next_sleep() == 30 * (0.5 + 0.5 * jitter)
        assert _failures() == failures + len(delays) + 1
        assert _expiry() == first.expires_at

        rig.standins.uri.trouble.recover()
        rig.clock.advance(30)
        await rig.clock.next_sleep()
        assert (await rig.source.current()).access_key_id != first.access_key_id
        assert _failures() == failures + len(delays) + 1

    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == len(delays) + 1
    assert "keeping the current credentials, usable" in warnings[0]
    assert "answered HTTP 503" in warnings[0]
    assert f"after {len(delays) + 1} failed attempts" in caplog.text


async def test_without_usable_credentials_asks_fail_fast_and_retry_at_most_every_5s(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    first = await rig.source.current()
    await rig.clock.next_sleep()
    rig.standins.uri.trouble.fail(503, "ServiceUnavailable")
    rig.clock.advance(LIFE_S)  # past the expiry: the refresh fails
    assert await rig.clock.next_sleep() == 1

    with pytest.raises(CredentialsError, match="answered HTTP 503"):
        await rig.source.current()
    assert rig.fetches == 2
    for delay in (1, 2, 4):
        rig.clock.advance(delay)
        assert await rig.clock.next_sleep() == delay * 2
    assert rig.fetches == 5
    assert "no usable credentials, CAMS calls fail until this works" in caplog.text

    # The backoff is at 8 s; an ask 5 s after the last attempt starts one at once.
    rig.clock.advance(5)
    with pytest.raises(CredentialsError, match="answered HTTP 503"):
        await rig.source.current()
    assert rig.fetches == 6

    rig.standins.uri.trouble.recover()
    with pytest.raises(CredentialsError):
        await rig.source.current()
    assert rig.fetches == 6
    rig.clock.advance(5)
    fresh = await rig.source.current()
    assert fresh.access_key_id != first.access_key_id
    assert rig.fetches == 7


async def test_a_first_ask_waits_for_the_first_fetch_boundedly(tmp_path: Path) -> None:
    async with running_standins(tmp_path) as standins:
        env = {"ALIBABA_CLOUD_CREDENTIALS_URI": standins.uri_url, "CAMS_ACCOUNT_ID": ACCOUNT}
        standins.uri.trouble.hold()
        provider = uri_provider(env)
        # A tiny bound, to see it hold: the answer is held back for as long as the test lasts.
        source = RefreshingSource(
            provider.fetcher, provider=provider.name, account=provider.account, wait_bound=0.05
        )
        with pytest.raises(
            CredentialsError, match=r"no credentials from credentials URI .* 0\.05s"
        ):
            await source.current()
        standins.uri.trouble.release()
        await source.close()


async def test_credentials_already_expired_on_arrival_are_refused(rig: Rig) -> None:
    rig.standins.uri.lifetime = -10
    with pytest.raises(CredentialsError, match="expired 10s ago; is this machine's clock right"):
        await rig.source.current()


async def test_closing_stops_refreshing(rig: Rig) -> None:
    await rig.source.current()
    await rig.clock.next_sleep()
    await rig.source.close()

    rig.clock.advance(LIFE_S)
    with pytest.raises(CredentialsError, match="closed"):
        await rig.source.current()
    assert rig.fetches == 1


async def test_no_secret_reaches_the_logs(rig: Rig, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    first = await rig.source.current()
    await rig.clock.next_sleep()
    rig.standins.uri.trouble.fail(500, "InternalError", count=1)
    rig.clock.advance(REFRESH_S)
    await rig.clock.next_sleep()
    rig.clock.advance(1)
    await rig.clock.next_sleep()
    second = await rig.source.current()

    assert caplog.records
    for credentials in (first, second):
        assert credentials.security_token is not None
        assert credentials.access_key_secret.reveal() not in caplog.text
        assert credentials.security_token.reveal() not in caplog.text
