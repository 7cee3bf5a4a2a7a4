"""`python -m bot emulator` changing a flow's status while it runs: on the `--status-change`
schedule, over the control route from EmulatorControl, and refusing a bad entry in one line."""

from __future__ import annotations

import asyncio

from bot.standin.harness.processes import (
    EmulatorControl,
    clean_env,
    controlled_emulator,
    run_bot,
)
from tests.fake_clock import HANG_GUARD_S
from tests.shared.emulator import get_flow

SIGN_UP = "1234567890123456"
BOOKING = "9876543210987654"


async def _status(control: EmulatorControl, flow_id: str) -> str | None:
    answer = await get_flow(control.url, flow_id)
    if answer.code != "OK":
        return answer.code
    status: str = answer.body["Data"]["Status"]
    return status


async def _until_status(control: EmulatorControl, flow_id: str, wanted: str) -> None:
    """Return once GetFlow answers `wanted`: the schedule runs once the process serves."""
    async with asyncio.timeout(HANG_GUARD_S):
        # Polled: the schedule runs in another process, which signals nothing.
        while await _status(control, flow_id) != wanted:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_the_schedule_and_the_control_route_change_statuses_in_the_process() -> None:
    async with controlled_emulator(
        "--status-change",
        f"{SIGN_UP}=BLOCKED@0",
        "--status-change",
        f"{BOOKING}=removed@0",
    ) as control:
        await _until_status(control, SIGN_UP, "BLOCKED")
        await _until_status(control, BOOKING, "Flow.NotFound")

        back = await control.set_status(BOOKING, "THROTTLED")
        gone = await control.set_status(SIGN_UP, None, space="cams-demo")
        booking = await _status(control, BOOKING)
        sign_up = await _status(control, SIGN_UP)
        stats = await control.stats()

    assert (back["status"], back["removed"]) == ("THROTTLED", False)
    assert (gone["space"], gone["removed"]) == ("cams-demo", True)
    assert (booking, sign_up) == ("THROTTLED", "Flow.NotFound")
    assert stats.counts.get("Flow.NotFound", 0) >= 2


async def test_a_bad_status_change_stops_the_emulator_with_one_line() -> None:
    run = await run_bot("emulator", "--status-change", f"{SIGN_UP}=BLOCKED@later", env=clean_env())

    assert run.code == 2
    assert run.err == (
        f"flowpreview: --status-change: seconds in '{SIGN_UP}=BLOCKED@later' "
        "must be a number from 0\n"
    )
