"""The bot's Prometheus metrics, on a registry of its own, served only on METRICS_PORT.

Every layer counts what it does here; nothing in this module knows Slack or CAMS beyond the
label values the callers pass. Label values are always from small, fixed sets (kinds, actions,
outcomes, CAMS error codes), never user input, so the number of series stays bounded.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

# Slack's side: every request to /slack/events (or over Socket Mode) and how it ended.
SLACK_REQUESTS = Counter(
    "flowpreview_slack_requests_total",
    "Slack requests by kind (command, shortcut, action, options, view, ...) and outcome.",
    ["kind", "outcome"],
    registry=REGISTRY,
)
ACK_SECONDS = Histogram(
    "flowpreview_slack_ack_seconds",
    "Time from a Slack request's arrival to its acknowledgement.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 2.5, 3.0, 5.0),
    registry=REGISTRY,
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
CACHE = Counter(
    "flowpreview_cache_requests_total",
    "Preview cache lookups by layer (local, redis) and result (hit, miss).",
    ["layer", "result"],
    registry=REGISTRY,
)

# Redis, shared by the replicas.
REDIS_UP = Gauge(
    "flowpreview_redis_up",
    "1 while the shared Redis answers, 0 while the replica works on its local fallbacks.",
    registry=REGISTRY,
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
