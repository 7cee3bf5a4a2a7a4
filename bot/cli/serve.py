"""`python -m bot serve`: the Slack bot, over HTTP or, with SLACK_APP_TOKEN, Socket Mode."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from typing import Any

from bot.access.settings import AccessSettings
from bot.cams.actions import Action
from bot.config import ConfigError, env_str
from bot.metrics_server import METRICS_PATH, MetricsSettings, serving_metrics
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings, rate_variable
from bot.serving import listen, serve_until_signalled
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.slack.server import create_server, runner_options
from bot.slack.settings import SlackSettings
from bot.slack.watching.settings import WatchSettings
from bot.store.settings import StoreSettings
from bot.store.store import Store

log = logging.getLogger(__name__)


def add_parser(commands: Any, summary: str) -> None:
    """Register `serve` on the sub-command parser."""
    parser = commands.add_parser(
        "serve",
        help=summary,
        description=(
            "Serve Slack on PORT (HTTP mode), or connect over Socket Mode when SLACK_APP_TOKEN "
            "is set. Every setting is checked, and the port bound, before anything listens."
        ),
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Serve until SIGINT or SIGTERM, then keep the word given to replies in flight."""
    settings = SlackSettings.from_env(env)
    metrics = MetricsSettings.from_env(env, slack_port=settings.port)
    service = PreviewService.from_env(env)
    store_settings = StoreSettings.from_env(env)
    access = AccessSettings.from_env(env)
    watch = WatchSettings.from_env(env)
    get_flow = PreviewSettings.from_env(env).limiter_for(Action.GET_FLOW)
    if watch.max_qps >= get_flow.rate / get_flow.period:
        raise ConfigError(
            "WATCH_MAX_QPS",
            f"must be below GetFlow's budget of {get_flow.rate} calls a second "
            f"({rate_variable(Action.GET_FLOW)}), or polls would leave people none",
        )
    store = Store(
        store_settings, max_watches_per_channel=watch.per_channel, max_watches=watch.total
    )
    try:
        sock = listen(args.host, settings.port)
    except OSError as exc:
        raise ConfigError(
            "PORT", f"cannot listen on {args.host}:{settings.port}: {os.strerror(exc.errno or 0)}"
        ) from None
    metrics_sock = metrics.listen() if metrics is not None else None

    def ready() -> None:
        if settings.socket_mode:
            log.info("Socket Mode; health check on :%d%s", settings.port, HEALTH_PATH)
        else:
            log.info("listening on :%d%s (HTTP mode)", settings.port, EVENTS_PATH)
        if metrics is not None:
            log.info("metrics on %s:%d%s", metrics.host, metrics.port, METRICS_PATH)
        # Which provider of the credential chain was chosen; never a key or a token.
        log.info("Alibaba Cloud credentials: %s", service.client.source.provider)
        log.info("database: %s", store_settings.describe())
        if store_settings.is_sqlite and env_str(env, "REDIS_URL"):
            # REDIS_URL means replicas; a rule, a channel's space or an install saved on one
            # would not apply on the others, and requests go to any of them.
            log.warning(
                "REDIS_URL is set but the database is SQLite: access rules, channel spaces, "
                "Slack installs and the audit trail are not shared between replicas; set "
                "DATABASE_URL to one PostgreSQL database for all of them"
            )

    server = create_server(settings, service, store=store, access=access, watch=watch)

    async def serve() -> None:
        # Metrics outlive the Slack server's shutdown, so a draining replica can be watched.
        async with serving_metrics(metrics_sock):
            await serve_until_signalled(server, sock, on_ready=ready, **runner_options())

    asyncio.run(serve())
    return 0
