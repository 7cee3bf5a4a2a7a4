"""Whether a space may be saved in the settings: from CAMS_SPACES, else from one ListFlow call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import unquote

import pytest

from bot.cams.actions import Action
from bot.preview.limiter import LimiterSettings, LocalLimiter
from bot.preview.space_check import SpaceCheck, check_space_known
from bot.preview.spaces import SpaceChoice, parse_spaces
from bot.standin.cams.catalog import ACME_SPACE, DEMO_SPACE
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from tests.fake_clock import HANG_GUARD_S

DEFAULT_ONLY = (SpaceChoice(DEMO_SPACE, DEMO_SPACE),)


@pytest.fixture
async def cams() -> AsyncIterator[RunningEmulator]:
    async with running_emulator() as running:
        yield running


async def test_configured_spaces_are_known_without_a_call(cams: RunningEmulator) -> None:
    listed = parse_spaces(ACME_SPACE, DEMO_SPACE)
    async with cams.client() as client:
        found = [
            await check_space_known(client, listed, space, HANG_GUARD_S)
            for space in (DEMO_SPACE, ACME_SPACE, "cams-else")
        ]
        default = await check_space_known(client, DEFAULT_ONLY, DEMO_SPACE, HANG_GUARD_S)

    assert found == [SpaceCheck.KNOWN, SpaceCheck.KNOWN, SpaceCheck.NOT_LISTED]
    assert default is SpaceCheck.KNOWN
    assert cams.emulator.by_action == {}


async def test_without_cams_spaces_cams_is_asked_for_one_flow(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        known = await check_space_known(client, DEFAULT_ONLY, ACME_SPACE, HANG_GUARD_S)
        unknown = await check_space_known(client, DEFAULT_ONLY, "nope", HANG_GUARD_S)

    assert (known, unknown) == (SpaceCheck.KNOWN, SpaceCheck.UNKNOWN)
    assert cams.emulator.by_action == {"ListFlow": 2}
    assert all('"Size":1}' in unquote(r.raw_path) for r in cams.emulator.recorded)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("error:Unknown.ResourceOwnerId@action:ListFlow", SpaceCheck.UNKNOWN),
        ("error:Ram.PermissionDeny@action:ListFlow", SpaceCheck.CANNOT_LIST),
        ("http:503@action:ListFlow", SpaceCheck.NO_ANSWER),
    ],
)
async def test_what_cams_answers_decides(
    cams: RunningEmulator, fault: str, expected: SpaceCheck
) -> None:
    cams.fault(fault)
    async with cams.client(settings=cams.settings(max_attempts=1)) as client:
        found = await check_space_known(client, DEFAULT_ONLY, ACME_SPACE, HANG_GUARD_S)

    assert found is expected


async def test_cams_not_answering_in_time_is_no_answer(cams: RunningEmulator) -> None:
    cams.fault(f"latency:{HANG_GUARD_S}@action:ListFlow")
    async with cams.client() as client:
        found = await check_space_known(client, DEFAULT_ONLY, ACME_SPACE, 0.05)
        spent = await check_space_known(client, DEFAULT_ONLY, ACME_SPACE, 0.0)

    assert (found, spent) == (SpaceCheck.NO_ANSWER, SpaceCheck.NO_ANSWER)


async def test_a_budget_paused_by_throttling_is_no_answer(cams: RunningEmulator) -> None:
    # The first ListFlow is throttled for ten minutes: the limiter pauses the account, and the
    # check after it is refused at once (Busy) instead of waiting.
    cams.fault("throttle:600000@action:ListFlow*1")
    limiter = LimiterSettings(max_wait=0.1, max_cooldown=600.0)
    gates = {action: LocalLimiter(limiter) for action in Action}
    async with cams.client(gates=gates) as client:
        throttled = await check_space_known(client, DEFAULT_ONLY, ACME_SPACE, HANG_GUARD_S)
        paused = await check_space_known(client, DEFAULT_ONLY, ACME_SPACE, HANG_GUARD_S)

    assert (throttled, paused) == (SpaceCheck.NO_ANSWER, SpaceCheck.NO_ANSWER)
    assert cams.emulator.by_action == {"ListFlow": 1}
