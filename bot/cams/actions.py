"""The CAMS API actions the bot calls, each with its own RAM action and its own rate budget."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    """A CAMS RPC action (the `x-acs-action` header), version 2020-06-06."""

    GET_FLOW_PREVIEW_URL = "GetFlowPreviewUrl"
    LIST_FLOW = "ListFlow"
    GET_FLOW = "GetFlow"

    @property
    def ram_action(self) -> str:
        """The name a RAM policy grants, e.g. `cams:ListFlow`."""
        return f"cams:{self.value}"
