"""RRSA from the command line: `get` and `serve` as separate processes, with only the variables
ACK's pod identity webhook injects, against the stand-in STS and the emulator."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp

from bot.slack.constants import EVENTS_PATH
from bot.standin.harness.emulator import running_emulator
from bot.standin.harness.processes import ServeProcess, clean_env, run_bot
from bot.standin.slack import payloads
from bot.standin.slack.fake_slack import running_fake_slack
from bot.standin.slack.signing import signed_headers
from tests.alibaba_standins import ACCOUNT, ROLE_ARN, running_standins


async def test_get_works_with_rrsa_alone(tmp_path: Path) -> None:
    async with (
        running_standins(tmp_path) as standins,
        running_emulator(mint=standins.mint) as cams,
    ):
        env = clean_env(CAMS_ENDPOINT=cams.url) | standins.oidc_env()
        run = await run_bot("get", "1234567890123456", env=env)

    assert run.code == 0, run.err
    assert "flows/1234567890123456/preview" in run.out
    assert standins.sts.trouble.counts["AssumeRoleWithOIDC"] == 1
    assert set(cams.emulator.stats()["arrivals"]) == {ACCOUNT}


async def test_serve_names_the_provider_at_start_up_and_never_a_secret(tmp_path: Path) -> None:
    async with (
        running_standins(tmp_path) as standins,
        running_emulator(mint=standins.mint) as cams,
        running_fake_slack(bot_token="xoxb-serve") as slack,
        aiohttp.ClientSession() as session,
    ):
        env = clean_env(
            CAMS_ENDPOINT=cams.url,
            SLACK_BOT_TOKEN="xoxb-serve",
            SLACK_SIGNING_SECRET="serve-secret",
            SLACK_API_URL=slack.api_url,
            LOG_LEVEL="DEBUG",
        )
        replica = ServeProcess(env | standins.oidc_env())
        try:
            await replica.start(session)
            # The first credentials are fetched at start-up, before anyone asks.
            for _ in range(200):
                if standins.sts.trouble.counts.get("AssumeRoleWithOIDC"):
                    break
                await asyncio.sleep(0.05)
            fetched_before_any_ask = standins.sts.trouble.counts.get("AssumeRoleWithOIDC", 0)
            body = payloads.slash_command("7777777777", response_url=slack.new_response_url())
            async with session.post(
                replica.url + EVENTS_PATH, data=body, headers=signed_headers("serve-secret", body)
            ) as response:
                answer = await response.json()
        finally:
            code, err = await replica.stop()

    log = err.decode()
    assert code == 0, log
    assert (
        f"Alibaba Cloud credentials: OIDC/RRSA: AssumeRoleWithOIDC as {ROLE_ARN} on 127.0.0.1"
        in log
    )
    assert standins.token_file.read_text() not in log
    assert "flows/7777777777/preview" in json.dumps(answer)
    assert fetched_before_any_ask == 1
    assert len(standins.sts.issued) == 1
    for credentials in standins.sts.issued:
        assert credentials.access_key_secret.reveal() not in log
        assert credentials.security_token is not None
        assert credentials.security_token.reveal() not in log
