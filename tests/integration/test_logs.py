"""Log lines of `python -m bot` processes and of a real redis-server's client."""

from __future__ import annotations

import asyncio
import json
import sys

from redis.asyncio import Redis

from bot.logs import LogFormat, log_context
from bot.standin.cams.catalog import DEMO_SPACE
from bot.standin.cams.server import DEMO_CREDENTIALS
from bot.standin.harness.emulator import RunningEmulator
from bot.standin.harness.processes import clean_env, run_bot
from bot.standin.harness.redis_server import RedisServer
from tests.shared.logs import FLOW, captured, records


async def test_json_warnings_and_uncaught_exceptions_from_the_cli_setup() -> None:
    script = (
        "import warnings\n"
        "from bot.logs import LogFormat, configure\n"
        "configure('INFO', LogFormat.JSON)\n"
        "warnings.warn('old\\nthing')\n"
        "raise RuntimeError('boom\\nover two lines')\n"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, stderr=asyncio.subprocess.PIPE, env=clean_env()
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)

    assert process.returncode == 1
    warning, crash = (json.loads(line) for line in err.decode().splitlines())
    assert (warning["logger"], warning["level"]) == ("py.warnings", "WARNING")
    assert "UserWarning: old\nthing" in warning["message"]
    assert (crash["level"], crash["message"]) == ("CRITICAL", "uncaught exception")
    assert crash["error"]["message"] == "boom\nover two lines"


async def test_redis_lines_come_out_in_the_same_format(redis_server: RedisServer) -> None:
    client = Redis.from_url(redis_server.url)
    try:
        with captured(LogFormat.JSON) as out, log_context(space="S1"):
            async with client.lock("flowpreview-test-lock", raise_on_release_error=False):
                # Gone before its owner lets go: redis-py warns on release.
                await client.delete("flowpreview-test-lock")
    finally:
        await client.aclose()

    [line] = records(out)
    assert (line["logger"], line["level"], line["space"]) == ("redis.asyncio.lock", "WARNING", "S1")
    assert line["message"].startswith("Lock was unlocked or no longer owned")


async def test_the_cli_refuses_a_bad_log_format_in_one_line() -> None:
    run = await run_bot("get", "1", env=clean_env(LOG_FORMAT="yaml"))

    assert run.code == 2
    assert run.err == "flowpreview: LOG_FORMAT: must be text or json, got 'yaml'\n"


async def test_the_cli_writes_json_lines_when_asked(cams: RunningEmulator) -> None:
    env = clean_env(
        CAMS_ENDPOINT=cams.url,
        ALIBABA_CLOUD_ACCESS_KEY_ID=DEMO_CREDENTIALS.access_key_id,
        ALIBABA_CLOUD_ACCESS_KEY_SECRET=DEMO_CREDENTIALS.access_key_secret.reveal(),
        CAMS_CUST_SPACE_ID=DEMO_SPACE,
        LOG_FORMAT="json",
        LOG_LEVEL="INFO",
    )
    run = await run_bot("get", FLOW, env=env)

    assert run.code == 0, run.err
    [fetched] = [json.loads(line) for line in run.err.splitlines()]
    assert (fetched["logger"], fetched["flow"], fetched["space"]) == (
        "bot.preview.service",
        FLOW,
        DEMO_SPACE,
    )
    assert DEMO_CREDENTIALS.access_key_secret.reveal() not in run.err
