"""The emulator changes a flow's status while it runs: the control route over loopback, the
in-process API, the schedule on a fake clock, and the `--status-change` option's checks."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bot.cli import build_parser
from bot.config import ConfigError
from bot.standin.cams.catalog import ACME_SPACE, DEMO_SPACE, FEATURED
from bot.standin.cams.statuses import (
    AmbiguousFlowError,
    InvalidStatusError,
    StatusChange,
    StatusSchedule,
    UnknownFlowError,
)
from bot.standin.harness.emulator import RunningEmulator, running_emulator
from tests.fake_clock import FakeClock
from tests.shared.emulator import get_flow, list_all_pages, list_page

SIGN_UP = "1234567890123456"
BOOKING = "9876543210987654"


async def _put(cams: RunningEmulator, flow_id: str, body: Any) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{cams.url}/_emulator/flows/{flow_id}/status", json=body) as response,
    ):
        return response.status, await response.json()


async def _put_text(cams: RunningEmulator, flow_id: str, text: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.put(f"{cams.url}/_emulator/flows/{flow_id}/status", data=text) as response,
    ):
        return response.status


async def _state(cams: RunningEmulator, flow_id: str, query: str = "") -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{cams.url}/_emulator/flows/{flow_id}{query}") as response,
    ):
        return response.status, await response.json()


async def _status(cams: RunningEmulator, flow_id: str) -> str | None:
    """GetFlow's Status for `flow_id` in the demo space, or its error code."""
    answer = await get_flow(cams.url, flow_id)
    if answer.code != "OK":
        return answer.code
    status: str = answer.body["Data"]["Status"]
    return status


async def test_a_status_put_shows_in_get_flow_and_leaves_list_flow_alone(
    cams: RunningEmulator,
) -> None:
    listed = await list_page(cams.url, DEMO_SPACE, 1, 100)

    code, state = await _put(cams, SIGN_UP, {"status": "BLOCKED"})

    assert code == 200
    assert state == {
        "space": DEMO_SPACE,
        "flow_id": SIGN_UP,
        "name": "Sign-up v3",
        "status": "BLOCKED",
        "removed": False,
    }
    assert await _status(cams, SIGN_UP) == "BLOCKED"
    assert await _status(cams, BOOKING) == "PUBLISHED"
    assert (await list_page(cams.url, DEMO_SPACE, 1, 100)).body["Data"] == listed.body["Data"]
    assert all("Status" not in flow for flow in listed.body["Data"])
    assert await _state(cams, SIGN_UP) == (200, state)


async def test_any_short_status_passes_through_as_given(cams: RunningEmulator) -> None:
    code, _ = await _put(cams, SIGN_UP, {"status": "PENDING_REVIEW", "space": DEMO_SPACE})

    assert code == 200
    assert await _status(cams, SIGN_UP) == "PENDING_REVIEW"


async def test_a_removed_flow_is_not_found_and_unlisted_until_a_status_brings_it_back(
    cams: RunningEmulator,
) -> None:
    before = await list_all_pages(cams.url, DEMO_SPACE, 7)

    code, state = await _put(cams, SIGN_UP, {"removed": True})
    gone = await get_flow(cams.url, SIGN_UP)
    listed = await list_all_pages(cams.url, DEMO_SPACE, 7)
    named = await list_page(cams.url, DEMO_SPACE, 1, 20, name="sign-up v")
    back, _ = await _put(cams, SIGN_UP, {"status": "DEPRECATED"})

    assert (code, state["removed"], state["status"]) == (200, True, "PUBLISHED")
    assert (gone.status, gone.code) == (404, "Flow.NotFound")
    flat = [flow_id for page in before for flow_id in page]
    assert [flow_id for page in listed for flow_id in page] == [f for f in flat if f != SIGN_UP]
    assert [flow["FlowName"] for flow in named.body["Data"]] == ["Sign-up v2"]
    assert back == 200
    assert await _status(cams, SIGN_UP) == "DEPRECATED"
    assert await list_all_pages(cams.url, DEMO_SPACE, 7) == before


@pytest.mark.parametrize(
    "body",
    [
        [],
        "BLOCKED",
        {},
        {"status": "BLOCKED", "removed": True},
        {"removed": False},
        {"removed": "yes"},
        {"status": ""},
        {"status": "   "},
        {"status": "X" * 33},
        {"status": "BLOCKED\n"},
        {"status": 3},
        {"status": None},
        {"status": "BLOCKED", "space": ""},
        {"status": "BLOCKED", "space": 7},
        {"status": "BLOCKED", "colour": "red"},
    ],
)
async def test_bad_bodies_get_400_and_change_nothing(cams: RunningEmulator, body: Any) -> None:
    code, answer = await _put(cams, SIGN_UP, body)

    assert code == 400
    assert answer["error"]
    assert await _status(cams, SIGN_UP) == "PUBLISHED"


async def test_a_body_that_is_not_json_gets_400(cams: RunningEmulator) -> None:
    assert await _put_text(cams, SIGN_UP, "{status: BLOCKED") == 400
    assert await _put_text(cams, SIGN_UP, "") == 400


async def test_unknown_flows_and_spaces_get_404(cams: RunningEmulator) -> None:
    assert (await _put(cams, "1111111111111111", {"status": "BLOCKED"}))[0] == 404
    assert (await _put(cams, SIGN_UP, {"status": "BLOCKED", "space": ACME_SPACE}))[0] == 404
    assert (await _put(cams, SIGN_UP, {"removed": True, "space": "nowhere"}))[0] == 404
    assert (await _state(cams, "1111111111111111"))[0] == 404
    assert (await _state(cams, SIGN_UP, f"?space={ACME_SPACE}"))[0] == 404
    assert await _status(cams, SIGN_UP) == "PUBLISHED"


async def test_a_flow_in_two_spaces_needs_its_space_named() -> None:
    shared = FEATURED[0]
    async with running_emulator(catalog={DEMO_SPACE: [shared], ACME_SPACE: [shared]}) as cams:
        unnamed, answer = await _put(cams, SIGN_UP, {"status": "BLOCKED"})
        named, state = await _put(cams, SIGN_UP, {"status": "BLOCKED", "space": ACME_SPACE})
        in_acme = await get_flow(cams.url, SIGN_UP, ACME_SPACE)
        in_demo = await get_flow(cams.url, SIGN_UP, DEMO_SPACE)

    assert (unnamed, named) == (400, 200)
    assert "name the space" in answer["error"]
    assert state["space"] == ACME_SPACE
    assert in_acme.body["Data"]["Status"] == "BLOCKED"
    assert in_demo.body["Data"]["Status"] == "PUBLISHED"


async def test_the_in_process_api_raises_typed_errors(cams: RunningEmulator) -> None:
    with pytest.raises(UnknownFlowError):
        cams.set_status("1111111111111111", "BLOCKED")
    with pytest.raises(UnknownFlowError):
        cams.remove_flow(SIGN_UP, space=ACME_SPACE)
    with pytest.raises(InvalidStatusError):
        cams.set_status(SIGN_UP, "")
    shared = FEATURED[0]
    cams.emulator.set_catalog({DEMO_SPACE: [shared], ACME_SPACE: [shared]})
    with pytest.raises(AmbiguousFlowError):
        cams.emulator.flow_state(SIGN_UP)


async def test_the_in_process_api_changes_what_get_flow_answers(cams: RunningEmulator) -> None:
    throttled = cams.set_status(SIGN_UP, "THROTTLED")
    removed = cams.remove_flow(BOOKING, DEMO_SPACE)

    assert (throttled.status, throttled.removed) == ("THROTTLED", False)
    assert (removed.space, removed.removed) == (DEMO_SPACE, True)
    assert await _status(cams, SIGN_UP) == "THROTTLED"
    assert await _status(cams, BOOKING) == "Flow.NotFound"


async def test_get_flow_calls_are_counted_per_flow(cams: RunningEmulator) -> None:
    for flow_id in (SIGN_UP, SIGN_UP, BOOKING):
        await get_flow(cams.url, flow_id)
    cams.remove_flow(BOOKING)
    await get_flow(cams.url, BOOKING)

    stats = cams.emulator.stats()
    assert stats["get_flow_by_flow"] == {SIGN_UP: 2, BOOKING: 2}
    assert stats["by_flow"] == {}
    assert stats["by_action"] == {"GetFlow": 4}
    assert cams.get_flow_calls(SIGN_UP) == 2
    cams.emulator.reset()
    assert cams.get_flow_calls(SIGN_UP) == 0


async def test_the_schedule_changes_statuses_on_the_fake_clock(cams: RunningEmulator) -> None:
    clock = FakeClock(500.0, sleep_advances=False)
    heard: list[StatusChange] = []
    changes = [
        StatusChange.parse(f"{SIGN_UP}=THROTTLED@12"),
        StatusChange.parse(f"{SIGN_UP}=BLOCKED@5"),
        StatusChange.parse(f"{BOOKING}=removed@5"),
    ]
    schedule = StatusSchedule(
        changes, cams.emulator, sleep=clock.sleep, clock=clock.time, announce=heard.append
    )
    task = asyncio.create_task(schedule.run())

    assert await clock.next_sleep() == 5
    assert await _status(cams, SIGN_UP) == "PUBLISHED"
    clock.advance(5)
    assert await clock.next_sleep() == 7
    assert await _status(cams, SIGN_UP) == "BLOCKED"
    assert await _status(cams, BOOKING) == "Flow.NotFound"
    clock.advance(7)
    await task

    assert await _status(cams, SIGN_UP) == "THROTTLED"
    assert heard == [changes[1], changes[2], changes[0]]
    assert schedule.pending == ()


async def test_the_schedule_step_makes_only_the_changes_due(cams: RunningEmulator) -> None:
    schedule = StatusSchedule(
        [StatusChange(SIGN_UP, None, 30.0), StatusChange(SIGN_UP, "DEPRECATED", 60.0)],
        cams.emulator,
    )

    assert schedule.step(29.9) == []
    assert [c.status for c in schedule.step(45.0)] == [None]
    assert await _status(cams, SIGN_UP) == "Flow.NotFound"
    assert [c.status for c in schedule.step(1e9)] == ["DEPRECATED"]
    assert await _status(cams, SIGN_UP) == "DEPRECATED"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("123=BLOCKED@0", StatusChange("123", "BLOCKED", 0.0)),
        ("123=removed@2.5", StatusChange("123", None, 2.5)),
        ("123=REMOVED@1", StatusChange("123", "REMOVED", 1.0)),
        ("123=ON@HOLD=X@60", StatusChange("123", "ON@HOLD=X", 60.0)),
    ],
)
def test_status_changes_parse(text: str, expected: StatusChange) -> None:
    assert StatusChange.parse(text) == expected


def _run_emulator(*words: str) -> None:
    args = build_parser("emulator").parse_args(["emulator", *words])
    args.run(args, {})


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("BLOCKED@5", "must be FLOW_ID=STATUS@SECONDS"),
        (f"{SIGN_UP}=BLOCKED", "must be FLOW_ID=STATUS@SECONDS"),
        (f"{SIGN_UP}=@5", "must be FLOW_ID=STATUS@SECONDS"),
        (f"={SIGN_UP}@5", "must be FLOW_ID=STATUS@SECONDS"),
        (f"{SIGN_UP}=BLOCKED@-1", "must be a number from 0"),
        (f"{SIGN_UP}=BLOCKED@soon", "must be a number from 0"),
        (f"{SIGN_UP}=BLOCKED@inf", "must be a number from 0"),
        (f"{SIGN_UP}={'X' * 33}@5", "1 to 32 characters"),
        ("1111111111111111=BLOCKED@5", "is not in any space"),
    ],
)
def test_the_option_refuses_bad_entries_naming_itself(entry: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _run_emulator("--status-change", f"{SIGN_UP}=BLOCKED@1", "--status-change", entry)

    assert caught.value.variable == "--status-change"
    assert reason in str(caught.value)
    assert "\n" not in str(caught.value)
