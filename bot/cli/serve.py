"""`python -m bot serve`: the Slack bot, over HTTP or, with SLACK_APP_TOKEN, Socket Mode."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from aiohttp import web

from bot.config import ConfigError
from bot.preview.service import PreviewService
from bot.slack.constants import EVENTS_PATH, HEALTH_PATH
from bot.slack.server import create_server
from bot.slack.settings import SlackSettings

log = logging.getLogger(__name__)


def add_parser(commands: Any) -> None:
    """Register `serve` on the sub-command parser."""
    parser = commands.add_parser(
        "serve",
        help="run the Slack bot",
        description=(
            "Serve Slack on PORT (HTTP mode), or connect over Socket Mode when SLACK_APP_TOKEN "
            "is set. Every setting is checked before anything listens."
        ),
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, env: dict[str, str]) -> int:
    """Serve until SIGINT or SIGTERM, then finish the replies in flight."""
    settings = SlackSettings.from_env(env)
    service = PreviewService.from_env(env)
    server = create_server(settings, service)
    if settings.socket_mode:
        log.info("Socket Mode; health check on :%d%s", settings.port, HEALTH_PATH)
    else:
        log.info("HTTP mode on :%d%s", settings.port, EVENTS_PATH)
    try:
        web.run_app(server, host=args.host, port=settings.port, print=None, access_log=None)
    except OSError as exc:
        raise ConfigError(
            "PORT", f"cannot listen on {args.host}:{settings.port}: {exc.strerror}"
        ) from None
    return 0
