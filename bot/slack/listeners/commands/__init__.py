"""`/flowpreview <flow-id> [<flow-id> ...] [space:<id>]` and `/flowpreview <name words>`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.preview.catalog import CatalogStatus
from bot.slack import render
from bot.slack.config_command import configure, is_config
from bot.slack.constants import COMMAND
from bot.slack.delivery import Delivery
from bot.slack.finding import Finder
from bot.slack.flow_ids import PreviewRequest, SearchRequest, UsageRequest, parse_command
from bot.slack.gate import admitted


def register(app: AsyncApp, delivery: Delivery) -> None:
    """Answer the slash command: usage at once, previews or matches in the ack or soon after."""
    finder = Finder(delivery)

    async def flowpreview(
        ack: AsyncAck,
        command: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        text = str(command.get("text", ""))
        if is_config(text):
            await ack(**await configure(delivery.gate, client, context, text))
            return
        request = parse_command(text)
        if isinstance(request, UsageRequest):
            usage = render.usage_message(
                request.problem, request.token, search_denied=_denied(delivery)
            )
            await ack(**usage)
            return
        flow_ids = request.flow_ids if isinstance(request, PreviewRequest) else ()
        verdict = await admitted(delivery.gate, client, context, request.space, flow_ids)
        if not verdict.allowed:
            await ack(**render.refused_message())
            return
        response_url = str(command.get("response_url", ""))
        if isinstance(request, SearchRequest):
            await finder.search_in_ack(ack, response_url, request.words, verdict.space)
            return
        await delivery.answer_in_ack(ack, response_url, request.flow_ids, verdict.space)

    app.command(COMMAND)(flowpreview)


def _denied(delivery: Delivery) -> bool:
    """Whether ListFlow is known to be denied in the default space."""
    space = delivery.service.client.space_for(None)
    if space is None:
        return False
    return delivery.service.catalog.state(space).status is CatalogStatus.DENIED
