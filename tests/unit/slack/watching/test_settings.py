"""WATCH_POLL_S, WATCH_MAX_QPS and the bounds: defaults, what is accepted, and one line naming
the variable for what is not."""

from __future__ import annotations

import pytest

from bot.config import ConfigError
from bot.slack.watching.settings import WatchSettings


def test_unset_means_the_documented_defaults() -> None:
    settings = WatchSettings.from_env({})

    assert settings == WatchSettings(poll_s=900.0, max_qps=1.0, per_channel=200, total=5000)


def test_each_variable_is_read() -> None:
    env = {
        "WATCH_POLL_S": "60",
        "WATCH_MAX_QPS": "2.5",
        "WATCH_MAX_PER_CHANNEL": "10",
        "WATCH_MAX_TOTAL": "100",
    }

    assert WatchSettings.from_env(env) == WatchSettings(60.0, 2.5, 10, 100)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("WATCH_POLL_S", "0"),
        ("WATCH_POLL_S", "0.5"),
        ("WATCH_POLL_S", "86401"),
        ("WATCH_POLL_S", "fifteen minutes"),
        ("WATCH_POLL_S", "nan"),
        ("WATCH_MAX_QPS", "0"),
        ("WATCH_MAX_QPS", "-1"),
        ("WATCH_MAX_QPS", "5"),
        ("WATCH_MAX_QPS", "inf"),
        ("WATCH_MAX_PER_CHANNEL", "0"),
        ("WATCH_MAX_PER_CHANNEL", "1.5"),
        ("WATCH_MAX_PER_CHANNEL", "5001"),
        ("WATCH_MAX_TOTAL", "0"),
        ("WATCH_MAX_TOTAL", "100001"),
    ],
)
def test_a_wrong_value_is_one_line_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        WatchSettings.from_env({variable: value})

    assert caught.value.variable == variable
    assert str(caught.value).startswith(f"{variable}: ")
    assert "\n" not in str(caught.value)


def test_a_bound_per_channel_above_the_total_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        WatchSettings.from_env({"WATCH_MAX_PER_CHANNEL": "50", "WATCH_MAX_TOTAL": "20"})

    assert caught.value.variable == "WATCH_MAX_PER_CHANNEL"


@pytest.mark.parametrize(
    ("flows", "poll_s", "max_qps", "cycle_s"),
    [
        (10, 900.0, 1.0, 900.0),
        (2000, 900.0, 1.0, 2000.0),
        (2000, 900.0, 4.0, 900.0),
        (8000, 900.0, 4.0, 2000.0),
    ],
)
def test_a_cycle_lasts_the_poll_or_flows_over_max_qps(
    flows: int, poll_s: float, max_qps: float, cycle_s: float
) -> None:
    assert WatchSettings(poll_s=poll_s, max_qps=max_qps).cycle_s(flows) == cycle_s
