"""Serving an aiohttp application: on a port inside a running loop, or until a signal."""

from __future__ import annotations

import asyncio
import signal
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web


@asynccontextmanager
async def serving(
    app: web.Application,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    ssl_context: ssl.SSLContext | None = None,
    **runner_options: Any,
) -> AsyncIterator[str]:
    """Serve `app` until the block ends (shutdown hooks included); yields its base URL.

    Port 0 picks a free port. `runner_options` go to aiohttp's AppRunner.
    """
    runner = web.AppRunner(app, access_log=None, **runner_options)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        yield f"{'https' if ssl_context else 'http'}://{shown}:{bound_port}"
    finally:
        await runner.cleanup()


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on `host:port`, bound before anything else starts.

    Raises OSError when the address cannot be had, so that a busy port is reported before
    anything claims to be listening.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=512)


async def serve_until_signalled(
    app: web.Application,
    sock: socket.socket,
    *,
    on_ready: Callable[[], None] = lambda: None,
    **runner_options: Any,
) -> None:
    """Serve `app` on `sock` until SIGINT or SIGTERM, then shut it down in order.

    Shutting down stops accepting connections first, then runs the application's shutdown
    and cleanup hooks, which bound how long it takes.
    """
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **runner_options)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.SockSite(runner, sock).start()
        on_ready()
        await stop.wait()
    finally:
        # A second signal during the shutdown changes nothing: the shutdown is bounded, and
        # dying half-way would break the word given to the replies still owed.
        await runner.cleanup()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
