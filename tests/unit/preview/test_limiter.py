"""The account-wide limiter, on a virtual-time event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.preview.errors import BusyError
from bot.preview.limiter import LimiterSettings, LocalLimiter
from tests.fake_clock import run_virtual

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Outcome:
    order: int
    arrived: float
    granted: float | None
    refused_for: float | None = None


async def _arrive_and_admit(
    limiter: LimiterSettings | LocalLimiter, arrivals: list[float], account: str = "acct"
) -> list[Outcome]:
    """Each caller sleeps until its arrival time, then asks; returns outcomes in asking order.

    Timers due at the same instant fire in no set order, so order is taken as callers ask.
    """
    target = limiter if isinstance(limiter, LocalLimiter) else LocalLimiter(limiter)
    loop = asyncio.get_running_loop()
    done: list[Outcome] = []

    asked = 0

    async def caller(at: float) -> None:
        nonlocal asked
        await asyncio.sleep(at)
        arrived, order = loop.time(), asked
        asked += 1
        try:
            await target.admit(account)
        except BusyError as busy:
            done.append(Outcome(order, arrived, None, busy.retry_after))
        else:
            done.append(Outcome(order, arrived, loop.time()))

    await asyncio.gather(*(caller(at) for at in arrivals))
    return sorted(done, key=lambda o: o.order)


def _model(arrivals: list[float], s: LimiterSettings) -> list[float | None]:
    """The reference: the k-th grant comes `period + margin` after the (k - rate)-th."""
    grants: list[float] = []
    outcome: list[float | None] = []
    for at in arrivals:
        turn = at
        if len(grants) >= s.rate:
            turn = max(turn, grants[-s.rate] + s.period + s.margin)
        # A turn max_wait away is served, whatever float rounding makes of the difference.
        if turn - at > s.max_wait + TOLERANCE:
            outcome.append(None)
        else:
            grants.append(turn)
            outcome.append(turn)
    return outcome


limiter_settings = st.builds(
    LimiterSettings,
    rate=st.integers(1, 6),
    margin=st.sampled_from([0.0, 0.05, 0.1, 0.25]),
    max_wait=st.sampled_from([0.0, 0.5, 2.0, 10.0]),
)
# Gaps between arrivals: many simultaneous, some spread out.
arrival_gaps = st.lists(
    st.one_of(st.just(0.0), st.floats(0.001, 0.5), st.floats(0.5, 3.0)), max_size=60
)


def _arrivals(gaps: list[float]) -> list[float]:
    times, now = [], 0.0
    for gap in gaps:
        now += gap
        times.append(now)
    return times


@settings(max_examples=300, deadline=None)
@given(s=limiter_settings, gaps=arrival_gaps)
def test_matches_the_reference_model(s: LimiterSettings, gaps: list[float]) -> None:
    arrivals = _arrivals(gaps)
    outcomes = run_virtual(_arrive_and_admit(s, arrivals))

    for outcome, expected in zip(outcomes, _model(arrivals, s), strict=True):
        if expected is None:
            assert outcome.granted is None
            assert outcome.refused_for is not None
            assert outcome.refused_for > s.max_wait
        else:
            assert outcome.granted == pytest.approx(expected, abs=TOLERANCE)


@settings(max_examples=300, deadline=None)
@given(s=limiter_settings, gaps=arrival_gaps)
def test_never_more_than_the_budget_in_any_window(s: LimiterSettings, gaps: list[float]) -> None:
    outcomes = run_virtual(_arrive_and_admit(s, _arrivals(gaps)))
    grants = sorted(o.granted for o in outcomes if o.granted is not None)

    for first, later in zip(grants, grants[s.rate :], strict=False):
        assert later - first >= s.period + s.margin - TOLERANCE


@settings(max_examples=300, deadline=None)
@given(s=limiter_settings, gaps=arrival_gaps)
def test_first_come_first_served_and_waits_within_bounds(
    s: LimiterSettings, gaps: list[float]
) -> None:
    outcomes = run_virtual(_arrive_and_admit(s, _arrivals(gaps)))
    served = [(o.arrived, o.granted) for o in outcomes if o.granted is not None]
    grants = [granted for _, granted in served]

    assert grants == sorted(grants)
    for arrived, granted in served:
        assert granted - arrived <= s.max_wait + TOLERANCE


def test_a_burst_up_to_the_budget_goes_at_once() -> None:
    outcomes = run_virtual(_arrive_and_admit(LimiterSettings(rate=5), [0.0] * 5))
    assert [o.granted for o in outcomes] == [0.0] * 5


def test_saturation_sustains_at_least_ninety_percent_of_the_rate() -> None:
    s = LimiterSettings(rate=5, max_wait=1000)
    outcomes = run_virtual(_arrive_and_admit(s, [0.0] * 500))
    last = max(o.granted or 0.0 for o in outcomes)
    assert 500 / last >= 0.9 * s.rate


def test_refusal_takes_no_slot() -> None:
    s = LimiterSettings(rate=1, margin=0.0, max_wait=1.0)
    # Second caller would wait 1 s (allowed), third 2 s (refused), fourth arrives at 0.5 and
    # waits 1.5 s (refused), fifth at 1.0 gets the slot at 2.0 the refusals did not book.
    outcomes = run_virtual(_arrive_and_admit(s, [0.0, 0.0, 0.0, 0.5, 1.0]))
    assert [o.granted for o in outcomes] == [0.0, 1.0, None, None, 2.0]
    assert outcomes[2].refused_for == pytest.approx(2.0)


def test_accounts_have_separate_budgets() -> None:
    async def scenario() -> tuple[list[Outcome], list[Outcome]]:
        limiter = LocalLimiter(LimiterSettings(rate=2))
        return await asyncio.gather(
            _arrive_and_admit(limiter, [0.0] * 3, "a"), _arrive_and_admit(limiter, [0.0] * 2, "b")
        )

    a, b = run_virtual(scenario())
    assert [o.granted for o in a] == [0.0, 0.0, pytest.approx(1.1)]
    assert [o.granted for o in b] == [0.0, 0.0]


def test_a_cancelled_waiter_leaks_nothing_and_holds_nobody_up() -> None:
    async def scenario() -> tuple[list[float], int]:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=1, margin=0.0))
        await limiter.admit("a")
        times: list[float] = []

        async def waiter() -> None:
            await limiter.admit("a")
            times.append(loop.time())

        doomed = asyncio.create_task(waiter())
        await asyncio.sleep(0.1)
        survivor = asyncio.create_task(waiter())
        await asyncio.sleep(0.1)
        doomed.cancel()
        await survivor
        return times, limiter.queued("a")

    times, queued = run_virtual(scenario())
    assert times == [pytest.approx(1.0)], "the survivor takes the cancelled waiter's turn"
    assert queued == 0


def test_a_waiter_cancelled_after_its_grant_gives_the_slot_back() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=1, margin=0.0))
        await limiter.admit("a")
        granted_then_cancelled = asyncio.create_task(limiter.admit("a"))
        await asyncio.sleep(1.0)  # the grant fires now, but the task has not resumed yet
        granted_then_cancelled.cancel()
        await asyncio.gather(granted_then_cancelled, return_exceptions=True)
        await limiter.admit("a")
        return loop.time()

    assert run_virtual(scenario()) == pytest.approx(1.0)


def test_throttling_starts_a_cooldown_for_the_whole_account() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=5, cooldown=1.0))
        await limiter.admit("a")
        await limiter.throttled("a", retry_after=2.5)
        await limiter.admit("a")
        first = loop.time()
        await limiter.throttled("a", retry_after=None)
        await limiter.admit("a")
        return [first, loop.time()]

    assert run_virtual(scenario()) == [pytest.approx(2.5), pytest.approx(3.5)]


def test_a_cooldown_longer_than_the_max_wait_is_refused_as_busy() -> None:
    async def scenario() -> float:
        limiter = LocalLimiter(LimiterSettings(max_wait=1.0))
        await limiter.throttled("a", retry_after=5.0)
        with pytest.raises(BusyError) as caught:
            await limiter.admit("a")
        return caught.value.retry_after

    assert run_virtual(scenario()) == pytest.approx(5.0)


def test_a_caller_with_less_time_than_the_max_wait_is_refused_sooner() -> None:
    async def scenario() -> float:
        limiter = LocalLimiter(LimiterSettings(rate=1, margin=0.0, max_wait=10.0))
        await limiter.admit("a")
        with pytest.raises(BusyError) as caught:
            await limiter.admit("a", within=0.5)
        await limiter.admit("a", within=1.0)
        return caught.value.retry_after

    assert run_virtual(scenario()) == pytest.approx(1.0)


def test_a_pause_never_outlasts_the_max_cooldown() -> None:
    async def scenario() -> tuple[float | None, float]:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(max_wait=1000.0, max_cooldown=30.0))
        told = await limiter.throttled("a", retry_after=600.0)
        await limiter.admit("a")
        return told, loop.time()

    told, granted = run_virtual(scenario())
    assert told == 30.0, "the caller is told the capped pause"
    assert granted == pytest.approx(30.0)


def test_busy_never_says_longer_than_the_max_cooldown() -> None:
    async def scenario() -> float:
        limiter = LocalLimiter(LimiterSettings(max_wait=1.0, max_cooldown=30.0))
        await limiter.throttled("a", retry_after=600.0)
        with pytest.raises(BusyError) as caught:
            await limiter.admit("a")
        return caught.value.retry_after

    assert run_virtual(scenario()) == pytest.approx(30.0)


async def _probe_scenario(outcomes: list[str]) -> list[float]:
    """A throttled call, then five callers queued; each calls 0.5 s after its grant and
    reports the next outcome in `outcomes` (`ok` or `throttled`), or `ok` once they run out.
    Returns the grant times in grant order."""
    loop = asyncio.get_running_loop()
    limiter = LocalLimiter(LimiterSettings(rate=5, cooldown=1.0))
    await limiter.admit("a")
    await limiter.throttled("a", retry_after=None)
    granted: list[float] = []
    answers = iter(outcomes)

    async def caller() -> None:
        await limiter.admit("a")
        granted.append(loop.time())
        await asyncio.sleep(0.5)
        if next(answers, "ok") == "throttled":
            await limiter.throttled("a", retry_after=None)
        else:
            limiter.settled("a")

    await asyncio.gather(*(caller() for _ in range(5)))
    return granted


def test_after_a_pause_one_probe_goes_alone_and_its_success_lets_the_queue_go() -> None:
    granted = run_virtual(_probe_scenario([]))
    assert granted == [pytest.approx(t) for t in (1.0, 1.5, 1.5, 1.5, 1.5)]


def test_a_throttled_probe_renews_the_pause_and_another_probe_follows() -> None:
    granted = run_virtual(_probe_scenario(["throttled"]))
    # The probe at 1.0 is throttled at 1.5: pause to 2.5, a new probe then, its answer at 3.0.
    assert granted == [pytest.approx(t) for t in (1.0, 2.5, 3.0, 3.0, 3.0)]


def test_a_probe_that_never_answers_is_replaced() -> None:
    async def scenario() -> list[float]:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=5, cooldown=1.0, max_wait=3.0))
        await limiter.throttled("a", retry_after=None)
        granted: list[float] = []

        async def silent_caller() -> None:
            await limiter.admit("a")
            granted.append(loop.time())

        await asyncio.gather(silent_caller(), silent_caller())
        return granted

    # The second waits for the first's answer until its own deadline (3 s), then is refused.
    with pytest.raises(BusyError):
        run_virtual(scenario())

    async def later() -> float:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=5, cooldown=1.0, max_wait=10.0))
        await limiter.throttled("a", retry_after=None)
        await limiter.admit("a")  # the probe, which never reports
        await limiter.admit("a")
        return loop.time()

    assert run_virtual(later()) == pytest.approx(11.0), "a probe is taken as lost after max_wait"


def test_a_probe_that_missed_its_slot_hands_the_probe_on() -> None:
    async def scenario() -> tuple[float, list[float]]:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=5, cooldown=1.0, max_wait=10.0))
        await limiter.throttled("a", retry_after=None)
        others: list[float] = []

        async def other() -> None:
            await limiter.admit("a")
            others.append(loop.time())
            await asyncio.sleep(0.5)  # CAMS takes half a second to answer
            limiter.settled("a")

        async def late_probe() -> float:
            await limiter.admit("a")  # the probe, granted at 1.0 s
            await limiter.missed("a")  # too late to send: nothing went out
            await limiter.admit("a")
            return loop.time()

        probe = asyncio.create_task(late_probe())
        await asyncio.sleep(0.01)
        waiting = [asyncio.create_task(other()) for _ in range(3)]
        again = await probe
        await asyncio.gather(*waiting)
        return again, others

    again, others = run_virtual(scenario())
    # The next in line probes at once, and the rest follow its answer: nobody waits out the
    # 10 s a silent probe is given.
    assert others == [pytest.approx(1.0), pytest.approx(1.5), pytest.approx(1.5)]
    assert again == pytest.approx(1.5)


def test_a_probe_cancelled_after_its_grant_hands_the_probe_on() -> None:
    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=5, cooldown=1.0))
        await limiter.throttled("a", retry_after=None)
        doomed = asyncio.create_task(limiter.admit("a"))
        await asyncio.sleep(1.0)  # granted now, but the task has not resumed yet
        doomed.cancel()
        await asyncio.gather(doomed, return_exceptions=True)
        await limiter.admit("a")
        return loop.time()

    assert run_virtual(scenario()) == pytest.approx(1.0)


def test_when_a_pause_begins_queued_callers_who_cannot_wait_it_out_are_refused_at_once() -> None:
    async def scenario() -> tuple[float, float, float]:
        loop = asyncio.get_running_loop()
        limiter = LocalLimiter(LimiterSettings(rate=1, margin=0.0, max_wait=10.0))
        await limiter.admit("a")
        hurried = asyncio.create_task(limiter.admit("a", within=3.0))
        patient = asyncio.create_task(limiter.admit("a"))
        await asyncio.sleep(0.5)
        await limiter.throttled("a", retry_after=5.0)
        with pytest.raises(BusyError) as caught:
            await hurried
        refused_at = loop.time()
        await patient
        return refused_at, caught.value.retry_after, loop.time()

    refused_at, retry_after, patient_granted = run_virtual(scenario())
    assert refused_at == pytest.approx(0.5), "answered when the pause began, not at its end"
    assert retry_after == pytest.approx(5.0), "with the real time until it could be served"
    assert patient_granted == pytest.approx(5.5)
