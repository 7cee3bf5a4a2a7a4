"""The card posted when someone shares a preview into a conversation."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.channels import ChannelAccess
from bot.slack.blocks import cards
from bot.slack.blocks.messages import Known, Message


async def shared_card(
    channels: ChannelAccess,
    client: AsyncWebClient,
    *,
    team_id: str,
    channel_id: str,
    flow_id: str,
    space: str,
    user_id: str,
    about: Known | None,
) -> Message:
    """The card for `flow_id` of `space` shared by `user_id` into `channel_id`: naming the flow
    only when the whole conversation may see the space."""
    visible = bool(channel_id) and await channels.sees(client, team_id, channel_id, space)
    return cards.shared_message(flow_id, space, user_id, about, visible=visible)
