"""The Slack directory when Slack cannot be reached at all."""

from __future__ import annotations

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.directory import DirectoryError, DirectoryErrorKind
from bot.standin.slack.fake_slack import running_fake_slack
from tests.shared.directory import TOKEN, ask, patient


async def test_an_unreachable_slack() -> None:
    async with running_fake_slack() as gone:
        url = gone.api_url
    with pytest.raises(DirectoryError) as raised:
        await ask(patient(), AsyncWebClient(token=TOKEN, base_url=url), "U0PLAIN01")
    assert raised.value.kind is DirectoryErrorKind.UNAVAILABLE
    assert TOKEN not in str(raised.value)
