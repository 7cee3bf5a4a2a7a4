"""What the Slack directory's tests share: the token, the team and channel asked from, a patient
ask."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.access.policy import Person
from bot.slack.admission.directory import Directory
from bot.standin.slack.payloads import DEFAULT_WHO

TOKEN = "xoxb-directory"
TEAM = DEFAULT_WHO.team_id
CHANNEL = DEFAULT_WHO.channel_id
# Slack answers in well under a second; the loopback fake on a loaded machine may not.
PATIENT_S = 30.0


def patient(**settings: Any) -> Directory:
    """A Directory that waits long enough for the fake Slack on a busy machine."""
    return Directory(**{"timeout_s": PATIENT_S, **settings})


async def ask(
    directory: Directory,
    client: AsyncWebClient,
    user_id: str,
    *,
    groups: Collection[str] = (),
    admin_users: Collection[str] = (),
) -> Person:
    """Who `user_id` is, asked from TEAM and CHANNEL."""
    return await directory.person(
        client, TEAM, user_id, CHANNEL, groups_that_matter=groups, admin_users=admin_users
    )
