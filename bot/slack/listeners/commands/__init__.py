"""`/flowpreview <flow-id> [<flow-id> ...] [space:<id>]` and `/flowpreview <name words>`."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.config_command import answer_config, is_config
from bot.slack.admission.gate import admitted
from bot.slack.answers.delivery import Delivery
from bot.slack.answers.finding import Finder
from bot.slack.answers.parsing import PreviewRequest, SearchRequest, UsageRequest, parse_command
from bot.slack.blocks import messages
from bot.slack.constants import COMMAND

# Said of a typed space that differs from a known one only in case or '_' versus '-', without
# naming the known one: whoever typed it may not be let in there.
LOOK_ALIKE = "is not a space I can use: space IDs are written exactly as CAMS gives them"


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
        response_url = str(command.get("response_url", ""))
        if is_config(text):
            await answer_config(ack, delivery, client, context, text, response_url=response_url)
            return
        request = parse_command(text)
        if isinstance(request, UsageRequest):
            usage = messages.usage_message(
                request.problem, request.token, search_denied=_denied(delivery)
            )
            await ack(**usage)
            return
        flow_ids = request.flow_ids if isinstance(request, PreviewRequest) else ()
        verdict = await admitted(delivery.gate, client, context, request.space, flow_ids)
        if verdict.look_alike and request.space is not None:
            await ack(**messages.usage_message(LOOK_ALIKE, request.space))
            return
        if not verdict.allowed:
            await ack(**messages.refused_message(unverified=verdict.unverified))
            return
        if isinstance(request, SearchRequest):
            await finder.search_in_ack(ack, response_url, request.words, verdict.space)
            return
        await delivery.answer_in_ack(ack, response_url, request.flow_ids, verdict.space)

    app.command(COMMAND)(flowpreview)


def _denied(delivery: Delivery) -> bool:
    """Whether ListFlow is known to be denied in the default space. Only known: usage is for
    anyone, and someone the rules refuse the space must cause no call on it."""
    return delivery.service.catalog.denied(None)
