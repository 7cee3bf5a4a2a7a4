"""Metrics settings, bounded label values and the event loop's metrics, in-process."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bot.config import ConfigError
from bot.metrics import LabelValues, LoopCounter, LoopHistogram
from bot.metrics_server import DEFAULT_HOST, MetricsSettings


@pytest.mark.parametrize(
    ("env", "variable", "problem"),
    [
        ({"METRICS_PORT": "nine"}, "METRICS_PORT", "expected a whole number"),
        ({"METRICS_PORT": "0"}, "METRICS_PORT", "must be at least 1"),
        ({"METRICS_PORT": "65536"}, "METRICS_PORT", "at most 65535"),
        ({"METRICS_PORT": "3000"}, "METRICS_PORT", "must differ from PORT (3000)"),
        ({"METRICS_PORT": "9100", "METRICS_HOST": "metrics.local"}, "METRICS_HOST", "IP address"),
    ],
)
def test_bad_metrics_settings_name_their_variable(
    env: dict[str, str], variable: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        MetricsSettings.from_env(env, slack_port=3000)
    assert raised.value.variable == variable
    assert problem in str(raised.value)


def test_metrics_are_off_unless_a_port_is_set() -> None:
    assert MetricsSettings.from_env({}, slack_port=3000) is None
    assert MetricsSettings.from_env({"METRICS_PORT": " "}, slack_port=3000) is None
    assert MetricsSettings.from_env({"METRICS_PORT": "9100"}, slack_port=3000) == MetricsSettings(
        9100, DEFAULT_HOST
    )
    assert MetricsSettings.from_env(
        {"METRICS_PORT": "9100", "METRICS_HOST": "::1"}, slack_port=3000
    ) == MetricsSettings(9100, "::1")


def test_label_values_from_outside_stay_bounded() -> None:
    codes = LabelValues(limit=2)
    assert codes("Throttling.User") == "Throttling.User"
    assert codes("Flow.NotFound") == "Flow.NotFound"
    assert codes("InternalError") == "other", "a third distinct code is one too many"
    assert codes("Throttling.User") == "Throttling.User", "codes already seen stay"
    assert codes("has spaces") == "other"
    assert codes("x" * 65) == "other"


def test_loop_metrics_expose_what_prometheus_client_would() -> None:
    # The hot path's lock-free counter and histogram must scrape exactly as the library's do.
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    buckets = (0.01, 0.1, 1.0)
    mine = LoopHistogram("t_seconds", "t", ["kind"], buckets, ours)
    library = Histogram("t_seconds", "t", ["kind"], buckets=buckets, registry=theirs)
    count = LoopCounter("c_total", "c", ["kind"], ours)
    library_count = Counter("c_total", "c", ["kind"], registry=theirs)
    for amount in (0.0, 0.01, 0.05, 1.0, 7.5):
        mine.labels("command").observe(amount)
        library.labels("command").observe(amount)
        count.labels("command").inc()
        library_count.labels("command").inc()
    count.labels("view").inc(2)
    library_count.labels("view").inc(2)

    def samples(registry: CollectorRegistry) -> list[tuple[str, str, float]]:
        text = generate_latest(registry).decode()
        return sorted(
            (sample.name, json.dumps(sample.labels, sort_keys=True), sample.value)
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if not sample.name.endswith("_created")
        )

    assert samples(ours) == samples(theirs)
