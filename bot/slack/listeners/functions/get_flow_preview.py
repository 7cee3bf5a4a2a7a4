"""The Workflow Builder step "Get a WhatsApp flow preview" (a custom function).

The step names a flow by ID, link or name, optionally a space, and the person it runs for.
It resolves the flow as the command does, checks that person's access, and completes with the
preview link and its expiry, the flow's ID, name and status; or fails with the sentence a
person would see. The link goes only to the step's outputs, which the workflow hands on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.context.complete.async_complete import AsyncComplete
from slack_bolt.context.fail.async_fail import AsyncFail
from slack_sdk.web.async_client import AsyncWebClient

from bot.cams.errors import CamsError
from bot.cams.models import FlowDetails, FlowPreview
from bot.errors import FlowpreviewError
from bot.ids import SLACK_USER_ID, SPACE_ID
from bot.metrics import STEP_RUNS
from bot.preview.catalog import CatalogStatus
from bot.preview.errors import BusyError
from bot.slack.admission.asker import Asker
from bot.slack.answers.delivery import settle
from bot.slack.blocks import messages
from bot.slack.deps import Deps
from bot.slack.edge.web_api import SlackWebError
from bot.slack.parsing import (
    MAX_FLOWS,
    PreviewRequest,
    SearchRequest,
    UsageRequest,
    clip,
    may_hold_a_link,
    parse_command,
)

log = logging.getLogger(__name__)

# A step has no person waiting on a 3 s ack: the catalog and GetFlow may take longer.
CATALOG_WAIT_S = 10.0
DETAILS_WAIT_S = 2.0
# The whole step, from the event to complete or fail.
STEP_TIMEOUT_S = 60.0
NAMES_LISTED = 5
# A fail() at shutdown waits at most this long.
LAST_WORD_S = 2.0
RESTARTED = "flowpreview restarted before the preview was ready. Run the step again."
INTERNAL = (
    "Something went wrong inside flowpreview; its maintainers can find the details in its logs."
)


class StepError(FlowpreviewError):
    """Why the step cannot complete, as the sentence a person would see."""


@dataclass(frozen=True, slots=True)
class StepInputs:
    """The step's inputs, checked: the flow as written, the space if any, the person."""

    flow: str
    space: str | None
    user: str


def listener(deps: Deps) -> Callable[..., Awaitable[None]]:
    """The step's listener (Bolt acknowledges function_executed by itself)."""

    async def get_flow_preview(
        inputs: dict[str, Any],
        complete: AsyncComplete,
        fail: AsyncFail,
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        team_id = Asker.of(context).team_id
        deps.inflight.spawn(_run(deps, inputs, complete, fail, client=client, team_id=team_id))

    return get_flow_preview


async def _run(
    deps: Deps,
    inputs: Mapping[str, Any],
    complete: AsyncComplete,
    fail: AsyncFail,
    *,
    client: AsyncWebClient,
    team_id: str,
) -> None:
    try:
        async with asyncio.timeout(STEP_TIMEOUT_S):
            outputs = await _outputs(deps, read_inputs(inputs), client, team_id)
    except StepError as failure:
        await _finish(fail(error=str(failure)), "failed")
    except TimeoutError:
        sentence = f"The step took longer than {STEP_TIMEOUT_S:.0f} s. Try again in a minute."
        await _finish(fail(error=sentence), "failed")
    except asyncio.CancelledError:
        # Shutdown cut the step short: a last word, so that the workflow does not wait on
        # Slack's own timeout, then the cancellation goes on.
        await _finish(fail(error=RESTARTED), "failed")
        raise
    except Exception:
        # A bug, not the person's doing: the workflow still gets an answer.
        log.exception("the workflow step failed")
        await _finish(fail(error=INTERNAL), "failed")
    else:
        await _finish(complete(outputs=outputs), "completed")


async def _finish(call: Awaitable[Any], outcome: str) -> None:
    try:
        async with asyncio.timeout(LAST_WORD_S if outcome == "failed" else STEP_TIMEOUT_S):
            await call
    except TimeoutError:
        log.warning("could not tell Slack the step %s: no answer in time", outcome)
        return
    except SlackWebError as error:
        log.warning("could not tell Slack the step %s: %s", outcome, error)
        return
    STEP_RUNS.labels(outcome).inc()


def read_inputs(inputs: Mapping[str, Any]) -> StepInputs:
    """The step's inputs, or StepError saying which one is wrong."""
    flow, space, user = inputs.get("flow"), inputs.get("space"), inputs.get("user")
    if not isinstance(flow, str) or not flow.strip():
        raise StepError("The step needs a flow: its ID, a link to it, or its name.")
    if not isinstance(user, str) or not SLACK_USER_ID.fullmatch(user):
        raise StepError("The step needs the person it runs for (its user input).")
    if space in ("", None):
        space = None
    elif not isinstance(space, str) or not SPACE_ID.fullmatch(space):
        raise StepError("The space input is not a CAMS space ID.")
    return StepInputs(flow.strip(), space, user)


async def _outputs(
    deps: Deps, asked: StepInputs, client: AsyncWebClient, team_id: str
) -> dict[str, Any]:
    request = parse_command(asked.flow)
    if isinstance(request, UsageRequest):
        problem = request.problem or "that is not a flow ID, link or name"
        said = request.token if request.token is not None else asked.flow
        raise StepError(f"{echo(said)}: {problem}.")
    space = asked.space or request.space
    gate = deps.gate
    flow_ids = request.flow_ids if isinstance(request, PreviewRequest) else ()
    if gate is not None:
        verdict = await gate.check(client, Asker(team_id, asked.user, ""), space, flow_ids)
        if verdict.look_alike and space is not None:
            raise StepError(f"{echo(space)} {messages.LOOK_ALIKE}.")
        if not verdict.allowed:
            raise StepError(messages.refused_text(unverified=verdict.unverified))
        space = verdict.space
    if isinstance(request, SearchRequest):
        flow_id = await _named(deps, request.words, space)
    elif len(request.flow_ids) > 1:
        raise StepError(f"The step previews one flow at a time; {len(flow_ids)} were given.")
    else:
        flow_id = request.flow_ids[0]
    lookups = deps.delivery.look_up([flow_id], space)
    try:
        preview = await deps.service.get(flow_id, space)
    except (CamsError, BusyError) as failure:
        await settle(lookups, 0.0)
        deps.auditor.outcomes([(flow_id, failure)], space, user=asked.user)
        raise StepError(messages.error_sentence(failure)) from None
    await settle(lookups, DETAILS_WAIT_S)
    deps.auditor.outcomes([(flow_id, preview)], space, user=asked.user)
    return step_outputs(preview, deps.service.known(flow_id, space))


def echo(text: str) -> str:
    """What the person gave, as a failure repeats it: never a link, which may carry a token
    into the workflow's activity, which its collaborators see."""
    if may_hold_a_link(text):
        return "The flow input"
    return repr(clip(text, 64))


def step_outputs(preview: FlowPreview, about: messages.Known | None) -> dict[str, Any]:
    """The outputs the manifest declares, from the preview and what is known of the flow."""
    status = about.status if isinstance(about, FlowDetails) else None
    return {
        "preview_url": preview.preview_url,
        "expires_at": int(preview.expires_at.timestamp()),
        "flow_id": preview.flow_id,
        "flow_name": about.name if about is not None else "",
        "status": status.value if status is not None else "",
    }


async def _named(deps: Deps, words: str, space: str | None) -> str:
    """The one flow of `space` whose name `words` means, or StepError."""
    service = deps.service
    space_id = service.client.space_for(space)
    if space_id is None:
        raise StepError("Finding a flow by name needs a space: give the step's space input.")
    snapshot = await service.catalog.wait(space_id, CATALOG_WAIT_S)
    if snapshot is None:
        if service.catalog.state(space_id).status is CatalogStatus.DENIED:
            raise StepError(f"Search by name is not available: {messages.search_denied_sentence()}")
        raise StepError(f"The flow list of space {space_id!r} cannot be loaded right now.")
    result = snapshot.index.search(words, MAX_FLOWS)
    if result.clear is not None:
        return result.clear.flow_id
    matches = [match.flow for match in result.matches]
    if not matches:
        raise StepError(f"No flow in space {space_id!r} is named like {words!r}.")
    if len(matches) == 1:
        return matches[0].flow_id
    names = ", ".join(
        f"{flow.name or messages.NO_NAME} ({flow.flow_id})" for flow in matches[:NAMES_LISTED]
    )
    more = f" and {len(matches) - NAMES_LISTED} more" if len(matches) > NAMES_LISTED else ""
    raise StepError(f"{words!r} matches {len(matches)} flows: {names}{more}. Give its ID.")
