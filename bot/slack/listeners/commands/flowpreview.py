"""`/flowpreview <flow-id> [<flow-id> ...] [space:<id>]`, `/flowpreview <name words>` and
`/flowpreview config ...`: usage at once, previews or matches in the ack or soon after."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.admission.gate import admitted
from bot.slack.blocks import messages
from bot.slack.deps import Deps
from bot.slack.listeners.commands.config import answer_config, is_config
from bot.slack.listeners.commands.watch import answer_watch, is_watch
from bot.slack.parsing import PreviewRequest, SearchRequest, UsageRequest, parse_command


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The command's listener."""

    async def flowpreview(
        ack: AsyncAck,
        command: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        text = str(command.get("text", ""))
        response_url = str(command.get("response_url", ""))
        if is_config(text):
            await answer_config(ack, deps, client, context, text, response_url=response_url)
            return
        if is_watch(text):
            await answer_watch(ack, deps, client, context, text)
            return
        request = parse_command(text)
        if isinstance(request, UsageRequest):
            # Only known: usage is for anyone, and someone the rules refuse the space must
            # cause no call on it.
            denied = deps.catalog.denied(None)
            await ack(
                **messages.usage_message(request.problem, request.token, search_denied=denied)
            )
            return
        flow_ids = request.flow_ids if isinstance(request, PreviewRequest) else ()
        verdict = await admitted(deps.gate, client, context, request.space, flow_ids)
        if verdict.look_alike and request.space is not None:
            await ack(**messages.usage_message(messages.LOOK_ALIKE, request.space))
            return
        if not verdict.allowed:
            await ack(**messages.refused_message(unverified=verdict.unverified))
            return
        if isinstance(request, SearchRequest):
            await deps.finder.search_in_ack(ack, response_url, request.words, verdict.space)
            return
        await deps.delivery.answer_in_ack(ack, response_url, request.flow_ids, verdict.space)

    return flowpreview
