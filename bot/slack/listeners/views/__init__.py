"""The picker's submissions: a flow chosen (its preview in the modal), then Share.

Slack waits 3 s for a view_submission's answer. What is ready within the ack budget comes in
the answer itself (`response_action: update`); otherwise the answer is a "Fetching…" view,
and `views.update` replaces it when the work is done.
"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.constants import PICKER_CALLBACK_ID, PICKER_RESULT_CALLBACK_ID
from bot.slack.deps import Deps
from bot.slack.listeners.views import preview_chosen, share_result


def register(app: AsyncApp, deps: Deps) -> None:
    """Answer the picker's submit with the preview, and the result's Share with a post."""
    app.view(PICKER_CALLBACK_ID)(preview_chosen.listener(deps))
    app.view(PICKER_RESULT_CALLBACK_ID)(share_result.listener(deps))
