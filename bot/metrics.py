"""The bot's Prometheus metrics, on a registry of its own, served only on METRICS_PORT.

Every layer counts what it does here; nothing in this module knows Slack or CAMS beyond the
label values the callers pass. Label values are always from small, fixed sets (kinds, actions,
outcomes), or bounded by LabelValues (CAMS error codes), never user input, so the number of
series stays bounded.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections.abc import Iterator, Sequence

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

# A `_created` sample beside every counter and histogram would double what a scrape carries,
# and nothing alerts on when a series began.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus_client

REGISTRY = CollectorRegistry(auto_describe=True)
# The process's CPU, memory and open files (process_*), read from /proc at each scrape.
ProcessCollector(registry=REGISTRY)
# What a label value taken from an upstream answer (a CAMS Code) may look like.
_LABEL_VALUE = re.compile(r"[A-Za-z0-9._-]{1,64}")
OTHER = "other"


class LabelValues:
    """Label values from outside (such as CAMS Codes), kept to a bounded set.

    The first `limit` distinct values that look like codes pass as they are; anything else,
    and every newcomer after them, is `other`, so that no answer can grow the series.
    """

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str) -> str:
        """`value` itself if it may be a label value, else `other`."""
        if not _LABEL_VALUE.fullmatch(value):
            return OTHER
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) >= self._limit:
                return OTHER
            self._seen.add(value)
        return value


class StateGauge:
    """A gauge with no sample at all until first set: a state that does not apply stays
    absent (a bot without Redis exports no Redis state, rather than "down")."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self._name = name
        self._documentation = documentation
        self._value: float | None = None
        registry.register(self)

    def set(self, value: float) -> None:
        """Set the gauge, making it appear from now on."""
        self._value = value

    @property
    def value(self) -> float | None:
        """The current value, or None while it has never been set."""
        return self._value

    def describe(self) -> list[Metric]:
        """The gauge's name, for the registry's duplicate check, whether set or not."""
        return [GaugeMetricFamily(self._name, self._documentation)]

    def collect(self) -> Iterator[Metric]:
        """One sample once set; nothing before."""
        if self._value is not None:
            yield GaugeMetricFamily(self._name, self._documentation, value=self._value)


class LoopCount:
    """One labelled series of a LoopCounter: a plain number."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        """Add `amount` (1 by default)."""
        self.value += amount


class LoopCounter:
    """A counter for the event loop's hot path, read by Prometheus only at scrape time.

    prometheus_client's Counter takes a lock at every increment: measured on a cached
    preview, it and the histogram below cost a tenth of the request's CPU. These are
    updated and scraped on the event loop's one thread only, so plain numbers suffice.
    """

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry
    ) -> None:
        self._name = name.removesuffix("_total")
        self._documentation = documentation
        self._labelnames = list(labelnames)
        self._series: dict[tuple[str, ...], LoopCount] = {}
        registry.register(self)

    def labels(self, *values: str) -> LoopCount:
        """The series for these label values (look it up once and keep it)."""
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = LoopCount()
        return series

    def describe(self) -> list[Metric]:
        """The counter's name, for the registry's duplicate check."""
        return [CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterator[Metric]:
        """Every series counted so far."""
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for values, series in list(self._series.items()):
            family.add_metric(list(values), series.value)
        yield family


class LoopTimes:
    """One labelled series of a LoopHistogram: counts per bucket, and the sum."""

    __slots__ = ("_bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, amount: float) -> None:
        """Count one observation of `amount`."""
        self.counts[bisect.bisect_left(self._bounds, amount)] += 1
        self.total += amount


class LoopHistogram:
    """A histogram for the event loop's hot path, as LoopCounter is a counter."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry,
    ) -> None:
        self._name = name
        self._documentation = documentation
        self._labelnames = list(labelnames)
        self._bounds = sorted(buckets)
        self._series: dict[tuple[str, ...], LoopTimes] = {}
        registry.register(self)

    def labels(self, *values: str) -> LoopTimes:
        """The series for these label values (look it up once and keep it)."""
        series = self._series.get(values)
        if series is None:
            series = self._series[values] = LoopTimes(self._bounds)
        return series

    def describe(self) -> list[Metric]:
        """The histogram's name, for the registry's duplicate check."""
        return [HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)]

    def collect(self) -> Iterator[Metric]:
        """Every series observed so far, with cumulative buckets as Prometheus wants them."""
        family = HistogramMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for values, series in list(self._series.items()):
            cumulative, buckets = 0, []
            for bound, count in zip([*self._bounds, float("inf")], series.counts, strict=True):
                cumulative += count
                le = floatToGoString(bound)  # type: ignore[no-untyped-call]  # untyped upstream
                buckets.append((le, float(cumulative)))
            family.add_metric(list(values), buckets, series.total)
        yield family


# Slack's side: every request to /slack/events (or over Socket Mode) and how it ended.
SLACK_REQUESTS = LoopCounter(
    "flowpreview_slack_requests_total",
    "Slack requests by kind (command, shortcut, action, options, view, ...) and outcome.",
    ["kind", "outcome"],
    REGISTRY,
)
ACK_SECONDS = LoopHistogram(
    "flowpreview_slack_ack_seconds",
    "Time from a Slack request's arrival to its acknowledgement.",
    ["kind"],
    (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0),
    REGISTRY,
)
REPLIES = Counter(
    "flowpreview_replies_total",
    "Replies posted to a response_url, by outcome (delivered, failed).",
    ["outcome"],
    registry=REGISTRY,
)

# CAMS: every attempt on the wire, and how each action's budget is spent.
CAMS_CALLS = Counter(
    "flowpreview_cams_calls_total",
    "CAMS attempts by action and answer code (OK, a CAMS error code, or the kind of a failure "
    "with no code).",
    ["action", "code"],
    registry=REGISTRY,
)
# CAMS documents a few dozen codes; beyond this many, something else is talking.
CAMS_CODES = LabelValues(limit=64)
CAMS_RETRIES = Counter(
    "flowpreview_cams_retries_total",
    "CAMS attempts retried after a retryable failure, by action.",
    ["action"],
    registry=REGISTRY,
)
CAMS_THROTTLED = Counter(
    "flowpreview_cams_throttled_total",
    "CAMS answers that said the account was throttled, by action (alert above 0).",
    ["action"],
    registry=REGISTRY,
)
LIMITER_WAIT_SECONDS = Histogram(
    "flowpreview_limiter_wait_seconds",
    "Time an attempt waited for its slot in the account's budget, by action.",
    ["action"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
    registry=REGISTRY,
)
BUSY = Counter(
    "flowpreview_busy_total",
    "Asks refused at once because the action's budget was booked too far ahead, by action.",
    ["action"],
    registry=REGISTRY,
)

# Caches: previews served without a call, by layer (local, redis).
CACHE = LoopCounter(
    "flowpreview_cache_requests_total",
    "Preview cache lookups by layer (local, redis) and result (hit, miss).",
    ["layer", "result"],
    REGISTRY,
)

# Redis, shared by the replicas.
REDIS_UP = StateGauge(
    "flowpreview_redis_up",
    "1 while the shared Redis answers, 0 while the replica works on its local fallbacks "
    "(absent without REDIS_URL).",
    REGISTRY,
)
REDIS_OUTAGES = Counter(
    "flowpreview_redis_outages_total",
    "Redis outages this replica noticed.",
    registry=REGISTRY,
)

# Alibaba Cloud credentials.
CREDENTIALS_EXPIRY = Gauge(
    "flowpreview_credentials_expiry_timestamp_seconds",
    "When the credentials in use expire (Unix time); 0 for a static AccessKey.",
    registry=REGISTRY,
)
CREDENTIAL_REFRESH_FAILURES = Counter(
    "flowpreview_credential_refresh_failures_total",
    "Failed refreshes of temporary credentials (alert when it grows).",
    registry=REGISTRY,
)

# Teams, spaces and access.
ACCESS_REFUSED = Counter(
    "flowpreview_access_refused_total",
    "Requests the access rules refused, by reason (guest, external, not_allowed, not_bound, "
    "closed_by_default, or unverified when Slack could not say who asked).",
    ["reason"],
    registry=REGISTRY,
)
AUDIT_RECORDS = Counter(
    "flowpreview_audit_records_total",
    "Audit records written to the database, or dropped (alert above 0 dropped).",
    ["result"],
    registry=REGISTRY,
)

# Slack surfaces beside commands: link unfurls, the Home tab and the Workflow Builder step.
UNFURLS = Counter(
    "flowpreview_unfurls_total",
    "Flow links unfurled, by outcome (sent, repeat: the same flow in the same channel within "
    "30 minutes, failed).",
    ["outcome"],
    registry=REGISTRY,
)
HOME_PUBLISHES = Counter(
    "flowpreview_home_publishes_total",
    "Home tab views published, by outcome (published, debounced, failed).",
    ["outcome"],
    registry=REGISTRY,
)
STEP_RUNS = Counter(
    "flowpreview_step_runs_total",
    "Workflow Builder step runs, by outcome (completed, failed).",
    ["outcome"],
    registry=REGISTRY,
)

# Watches: the flows polled, how long a cycle over them really takes, and the changes posted.
WATCHED_FLOWS = Gauge(
    "flowpreview_watched_flows",
    "Flows the watches poll (watched flows and every flow of a watched space).",
    registry=REGISTRY,
)
WATCH_CYCLE_SECONDS = Gauge(
    "flowpreview_watch_cycle_seconds",
    "How long the last full cycle over the watched flows took (at least WATCH_POLL_S; "
    "flows / WATCH_MAX_QPS when that is longer).",
    registry=REGISTRY,
)
WATCH_CHANGES_POSTED = Counter(
    "flowpreview_watch_changes_posted_total",
    "Changes of status posted to watching channels.",
    registry=REGISTRY,
)
WATCH_POST_FAILURES = Counter(
    "flowpreview_watch_post_failures_total",
    "Changes that could not be posted, by reason (not_in_channel, channel_not_found, "
    "is_archived, not_installed, not_seen, refused, rate_limited, unavailable).",
    ["reason"],
    registry=REGISTRY,
)
