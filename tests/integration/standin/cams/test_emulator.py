"""The emulator as a process (`python -m bot emulator`: the catalog size it is asked for), and
its latency faults on the real clock."""

from __future__ import annotations

import asyncio
import contextlib

from bot.standin.cams.catalog import DEMO_SPACE
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.processes import clean_env, emulator_process, run_bot
from tests.shared.emulator import get_flow, list_all_pages, list_page, signed_call


async def test_emulator_command_serves_a_catalog_of_the_size_asked() -> None:
    async with emulator_process("--catalog-size", "250", env=clean_env()) as emulator:
        pages = await list_all_pages(emulator.url, DEMO_SPACE, 100)
    assert b"cams-demo (250 flows), cams-acme (20 flows)" in emulator.banner
    assert [len(page) for page in pages] == [100, 100, 50]


async def test_emulator_command_refuses_an_impossible_catalog_size() -> None:
    run = await run_bot("emulator", "--catalog-size", "-1", env=clean_env())
    assert run.code == 2
    assert run.err.startswith("flowpreview: --catalog-size: must be between 0 and")


async def test_latency_can_slow_one_action_and_leave_the_others(cams: RunningEmulator) -> None:
    cams.fault("latency:60@action:ListFlow")
    slow = asyncio.create_task(list_page(cams.url, DEMO_SPACE, 1, 20))
    try:
        preview = await signed_call(cams.url, "GetFlowPreviewUrl", {"FlowId": "1"})
        got = await get_flow(cams.url, "1234567890123456")
        assert (preview.status, got.status) == (200, 200)
        assert not slow.done(), "ListFlow is still held back"
    finally:
        slow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await slow
