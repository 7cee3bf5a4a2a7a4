"""The preview cache: expiry with a margin, a size bound, brief negative entries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.cams.errors import CamsError, ErrorKind
from bot.cams.models import FlowPreview
from bot.preview.cache import PreviewCache, serve_until
from tests.fake_clock import FakeClock

NOW = 1_800_000_000.0
DAY = 86400.0


def _preview(expires_in: float, flow_id: str = "1") -> FlowPreview:
    expires = datetime.fromtimestamp(NOW + expires_in, UTC)
    return FlowPreview(flow_id, f"https://x.test/{flow_id}", expires, "R")


@pytest.mark.parametrize(
    ("life", "margin"),
    [(30 * DAY, 3 * DAY), (DAY, 8640.0), (600.0, 60.0), (300.0, 60.0), (61.0, 60.0)],
)
def test_margin_is_the_larger_of_a_minute_and_a_tenth_of_the_life_left(
    life: float, margin: float
) -> None:
    assert serve_until(_preview(life), NOW) == pytest.approx(NOW + life - margin)


def test_an_entry_is_served_until_its_margin_and_never_after() -> None:
    clock = FakeClock(NOW)
    cache = PreviewCache(timer=clock.time)
    key = ("acct", "", "1")
    cache.put(key, _preview(1000.0))

    clock.now = NOW + 899.0
    assert cache.get(key) == _preview(1000.0)
    clock.now = NOW + 900.0
    assert cache.get(key) is None


def test_a_link_about_to_expire_is_not_kept() -> None:
    cache = PreviewCache(timer=FakeClock(NOW).time)
    cache.put(("acct", "", "1"), _preview(59.0))
    cache.put(("acct", "", "2"), _preview(-5.0))
    assert cache.get(("acct", "", "1")) is None
    assert cache.get(("acct", "", "2")) is None
    assert len(cache) == 0


def test_size_is_bounded_least_recently_used_first() -> None:
    cache = PreviewCache(maxsize=3, timer=FakeClock(NOW).time)
    keys = [("acct", "", str(i)) for i in range(4)]
    for key in keys[:3]:
        cache.put(key, _preview(DAY, key[2]))
    assert cache.get(keys[0]) is not None  # now the most recently used
    cache.put(keys[3], _preview(DAY, "3"))

    assert len(cache) == 3
    assert cache.get(keys[1]) is None
    assert all(cache.get(key) is not None for key in (keys[0], keys[2], keys[3]))


def test_errors_live_at_most_thirty_seconds() -> None:
    clock = FakeClock(NOW)
    cache = PreviewCache(negative_ttl=300.0, timer=clock.time)
    key = ("acct", "", "gone")
    cache.put(key, CamsError(ErrorKind.NOT_FOUND, "no such flow", request_id="R"))

    clock.now = NOW + 29.9
    assert isinstance(cache.get(key), CamsError)
    clock.now = NOW + 30.0
    assert cache.get(key) is None


def test_keys_keep_accounts_and_spaces_apart() -> None:
    cache = PreviewCache(timer=FakeClock(NOW).time)
    cache.put(("a", "s1", "1"), _preview(DAY))
    assert cache.get(("a", "s2", "1")) is None
    assert cache.get(("b", "s1", "1")) is None
