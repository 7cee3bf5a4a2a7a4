"""The CAMS client on refreshing credentials, against the emulator and the stand-in STS sharing
one key mint: keys rotate mid-traffic and no ask fails; the account, and with it every budget
and cache key, stays the same."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.cams import signing
from bot.cams.actions import Action
from bot.cams.credentials import CredentialsError, StaticSource, credential_source
from bot.cams.errors import CamsError, ErrorKind
from bot.preview.limiter import LimiterSettings
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from tests.alibaba_standins import ACCOUNT, running_standins
from tests.fake_clock import FakeClock, eventually

LIFE_S = 60


def _key_ids(cams: RunningEmulator) -> list[str]:
    """The AccessKey IDs that signed the requests the emulator received, in order."""
    ids: list[str] = []
    for request in cams.emulator.recorded:
        parsed = signing.parse_authorization(request.headers.get("Authorization", ""))
        assert parsed is not None
        if not ids or ids[-1] != parsed.access_key_id:
            ids.append(parsed.access_key_id)
    return ids


async def test_credentials_that_expire_mid_traffic_fail_no_ask(tmp_path: Path) -> None:
    clock = FakeClock()
    async with (
        running_standins(tmp_path, clock=clock.time, sts_lifetime=LIFE_S) as standins,
        running_emulator(mint=standins.mint, wall_clock=clock.time) as cams,
    ):
        source = credential_source(standins.oidc_env(), clock=clock.time, sleep=clock.sleep)
        client = cams.client(source, wall_clock=clock.time)
        keys = {action: client.budget_key(action) for action in Action}
        asked = 0
        # Five minutes of traffic, three asks a second, on credentials that live a minute.
        for second in range(5 * LIFE_S):
            flows = [f"{second}{n}" for n in range(3)]
            await asyncio.gather(*(client.get_flow_preview_url(flow) for flow in flows))
            asked += len(flows)
            clock.advance(1)
        assert {action: client.budget_key(action) for action in Action} == keys
        await client.close()

    assert cams.emulator.counts == {"OK": asked}
    rotations = _key_ids(cams)
    assert len(rotations) >= 5
    assert len(set(rotations)) == len(rotations)
    assert all(key.startswith(f"STS.{ACCOUNT}.") for key in rotations)
    # CAMS counted every call for the one account, whatever key signed it.
    assert set(cams.emulator.stats()["arrivals"]) == {ACCOUNT}
    assert client.account == ACCOUNT
    assert keys[Action.GET_FLOW_PREVIEW_URL] == f"{ACCOUNT}:GetFlowPreviewUrl"


async def test_asks_wait_for_a_late_refresh_rather_than_fail(tmp_path: Path) -> None:
    """STS is slow past the credentials' end: asks then wait for the refresh, and succeed."""
    clock = FakeClock()
    async with (
        running_standins(tmp_path, clock=clock.time, sts_lifetime=LIFE_S) as standins,
        running_emulator(mint=standins.mint, wall_clock=clock.time) as cams,
    ):
        source = credential_source(standins.assume_role_env(), clock=clock.time, sleep=clock.sleep)
        client = cams.client(source, wall_clock=clock.time)
        await client.get_flow_preview_url("1")
        assert await clock.next_sleep() == 40

        standins.sts.trouble.hold()
        clock.advance(40)
        await eventually(lambda: standins.sts.trouble.counts["held"] == 1)
        await client.get_flow_preview_url("2")  # still usable: served at once
        clock.advance(LIFE_S - 40 + 1)  # the old credentials have expired
        asks = [asyncio.ensure_future(client.get_flow_preview_url(f"{n}")) for n in range(3, 8)]
        await asyncio.sleep(0)
        assert not any(ask.done() for ask in asks)
        standins.sts.trouble.release()
        await asyncio.gather(*asks)
        await client.close()

    assert cams.emulator.counts == {"OK": 7}
    assert len(_key_ids(cams)) == 2


async def test_the_emulator_refuses_expired_sts_credentials(tmp_path: Path) -> None:
    clock = FakeClock()
    async with (
        running_standins(tmp_path, clock=clock.time) as standins,
        running_emulator(mint=standins.mint, wall_clock=clock.time) as cams,
    ):
        expired = standins.mint.issue(ACCOUNT, clock.now - 1)
        client = cams.client(StaticSource(expired), wall_clock=clock.time)
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
        await client.close()

    assert caught.value.kind is ErrorKind.AUTH_FAILED
    assert caught.value.code == "InvalidSecurityToken.Expired"


async def test_a_client_without_credentials_fails_its_asks_as_auth_failures(
    tmp_path: Path,
) -> None:
    async with running_standins(tmp_path) as standins, running_emulator() as cams:
        standins.sts.trouble.fail(403, "NoPermission")
        client = cams.client(credential_source(standins.assume_role_env()))
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
        await client.close()

    assert caught.value.kind is ErrorKind.AUTH_FAILED
    assert "no usable Alibaba Cloud credentials: STS AssumeRole failed: NoPermission" in str(
        caught.value
    )
    assert len(cams.emulator.recorded) == 0


async def test_the_service_from_env_uses_the_chain_and_closes_the_source(tmp_path: Path) -> None:
    async with (
        running_standins(tmp_path) as standins,
        running_emulator(mint=standins.mint) as cams,
    ):
        service = PreviewService.from_env({**standins.oidc_env(), "CAMS_ENDPOINT": cams.url})
        assert service.client.source.provider.startswith("OIDC/RRSA: AssumeRoleWithOIDC as ")
        assert service.client.account == ACCOUNT

        preview = await service.get("42")
        await service.close()
        with pytest.raises(CredentialsError, match="closed"):
            await service.client.source.current()

    assert preview.flow_id == "42"
    assert cams.emulator.counts == {"OK": 1}


@pytest.mark.dates
async def test_the_cache_outlives_a_refresh(tmp_path: Path) -> None:
    # Near real time: the service's client dates its requests with the real clock.
    clock = FakeClock(float(int(time.time())))
    async with (
        running_standins(tmp_path, clock=clock.time, sts_lifetime=LIFE_S) as standins,
        running_emulator(mint=standins.mint, wall_clock=clock.time) as cams,
    ):
        source = credential_source(standins.oidc_env(), clock=clock.time, sleep=clock.sleep)
        service = PreviewService.create(
            source, cams.settings(), PreviewSettings(limiter=LimiterSettings())
        )
        first = await service.get("42")
        before = await source.current()
        assert await clock.next_sleep() == 40
        clock.advance(40)
        await clock.next_sleep()
        assert (await source.current()).access_key_id != before.access_key_id

        again = await service.get("42")
        await service.get("43")
        await service.close()

    assert again == first
    assert cams.emulator.counts == {"OK": 2}
    assert len(_key_ids(cams)) == 2
