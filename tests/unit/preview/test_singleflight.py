"""Single-flight: one call per key at a time, robust to cancellation and failure."""

from __future__ import annotations

import asyncio
import gc

import pytest

from bot.preview.singleflight import SingleFlight


class Upstream:
    """Counts calls and finishes them only when told to."""

    def __init__(self) -> None:
        self.calls = 0
        self.release = asyncio.Event()
        self.fail: Exception | None = None

    async def fetch(self) -> str:
        self.calls += 1
        await self.release.wait()
        if self.fail is not None:
            raise self.fail
        return f"answer {self.calls}"


async def test_concurrent_asks_share_one_call() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    upstream = Upstream()
    asks = [asyncio.create_task(flights.run("k", upstream.fetch)) for _ in range(10)]
    await asyncio.sleep(0)
    upstream.release.set()

    assert await asyncio.gather(*asks) == ["answer 1"] * 10
    assert upstream.calls == 1
    assert flights.in_flight() == 0


async def test_different_keys_do_not_share() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    upstream = Upstream()
    upstream.release.set()
    await asyncio.gather(flights.run("a", upstream.fetch), flights.run("b", upstream.fetch))
    assert upstream.calls == 2


async def test_cancelling_the_first_caller_neither_cancels_the_call_nor_fails_the_others() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    upstream = Upstream()
    first = asyncio.create_task(flights.run("k", upstream.fetch))
    second = asyncio.create_task(flights.run("k", upstream.fetch))
    await asyncio.sleep(0)
    first.cancel()
    await asyncio.sleep(0)
    upstream.release.set()

    assert await second == "answer 1"
    assert first.cancelled()
    assert upstream.calls == 1


async def test_the_call_completes_even_when_every_caller_left() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    upstream = Upstream()
    done = asyncio.Event()

    async def fetch_and_note() -> str:
        answer = await upstream.fetch()
        done.set()
        return answer

    only = asyncio.create_task(flights.run("k", fetch_and_note))
    await asyncio.sleep(0)
    only.cancel()
    upstream.release.set()
    await asyncio.wait_for(done.wait(), 1)
    await asyncio.sleep(0)
    assert flights.in_flight() == 0


async def test_a_failure_reaches_every_waiter_and_the_next_ask_calls_again() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    upstream = Upstream()
    upstream.fail = RuntimeError("upstream down")
    asks = [asyncio.create_task(flights.run("k", upstream.fetch)) for _ in range(3)]
    await asyncio.sleep(0)
    upstream.release.set()

    results = await asyncio.gather(*asks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    upstream.fail = None
    assert await flights.run("k", upstream.fetch) == "answer 2"


async def test_an_abandoned_failure_is_not_reported_as_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    upstream = Upstream()
    upstream.fail = RuntimeError("nobody listens")
    only = asyncio.create_task(flights.run("k", upstream.fetch))
    await asyncio.sleep(0)
    only.cancel()
    upstream.release.set()
    for _ in range(3):
        await asyncio.sleep(0)
    gc.collect()
    assert "exception was never retrieved" not in caplog.text
