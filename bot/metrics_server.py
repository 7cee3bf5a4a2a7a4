"""The metrics endpoint: `GET /metrics` from the bot's registry, on METRICS_PORT only.

It is a site of its own, apart from Slack's PORT, so that the public Slack endpoint never
shows the bot's counters and a load balancer can keep the metrics port private. Its socket
is bound at start-up, before anything says it is ready, as Slack's is.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.config import ConfigError, env_int, env_str
from bot.metrics import REGISTRY
from bot.serving import listen

METRICS_PATH = "/metrics"
# Every interface, as Slack's port: Prometheus scrapes a pod or container from outside it.
DEFAULT_HOST = "0.0.0.0"  # noqa: S104
# A scraper that has not sent its request's headers by then is dropped.
HEADERS_TIMEOUT_S = 5.0
# A scrape is answered at once; shutting down waits no longer than this for one under way.
SHUTDOWN_TIMEOUT_S = 1.0


@dataclass(frozen=True, slots=True)
class MetricsSettings:
    """Where `/metrics` listens: METRICS_PORT on METRICS_HOST."""

    port: int
    host: str = DEFAULT_HOST

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, slack_port: int) -> MetricsSettings | None:
        """METRICS_PORT and METRICS_HOST; None when METRICS_PORT is unset (no endpoint).

        Raises ConfigError for a port outside 1-65535 or equal to Slack's `slack_port`, and
        for a host that is not an IP address.
        """
        if env_str(env, "METRICS_PORT") is None:
            return None
        port = env_int(env, "METRICS_PORT", 0)
        if port > 65535:
            raise ConfigError("METRICS_PORT", "must be at most 65535")
        if port == slack_port:
            raise ConfigError(
                "METRICS_PORT",
                f"must differ from PORT ({slack_port}): metrics are never served on Slack's port",
            )
        host = env_str(env, "METRICS_HOST") or DEFAULT_HOST
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ConfigError(
                "METRICS_HOST", f"must be an IP address such as 127.0.0.1 or ::, got {host!r}"
            ) from None
        return cls(port, host)

    def listen(self) -> socket.socket:
        """The endpoint's socket, bound now; ConfigError naming METRICS_PORT if it cannot be."""
        try:
            return listen(self.host, self.port)
        except OSError as exc:
            raise ConfigError(
                "METRICS_PORT",
                f"cannot listen on {self.host}:{self.port}: {os.strerror(exc.errno or 0)}",
            ) from None


def metrics_app() -> web.Application:
    """An application that serves `GET /metrics` (Prometheus text format) and nothing else."""
    app = web.Application()

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    app.router.add_get(METRICS_PATH, metrics)
    return app


@asynccontextmanager
async def serving_metrics(sock: socket.socket | None) -> AsyncIterator[None]:
    """Serve `/metrics` on `sock` until the block ends; with no socket, serve nothing.

    Wrap the Slack server in it, so that the metrics of a draining replica can still be read.
    """
    if sock is None:
        yield
        return
    runner = web.AppRunner(
        metrics_app(),
        access_log=None,
        handle_signals=False,
        keepalive_timeout=HEADERS_TIMEOUT_S,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
    )
    await runner.setup()
    try:
        await web.SockSite(runner, sock).start()
        yield
    finally:
        await runner.cleanup()
