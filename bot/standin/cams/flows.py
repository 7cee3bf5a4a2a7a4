"""ListFlow and GetFlow over a seeded catalog: paging, FlowName matching, the Data they send,
and the statuses and removals made while the emulator runs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.standin.cams.catalog import SeededFlow
from bot.standin.cams.statuses import AmbiguousFlowError, UnknownFlowError, check_status

# ListFlow's Page when it is absent, and the largest Size it accepts.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# What GetFlow reports about every flow's JSON; the emulator has no flow JSON of its own.
JSON_VERSION = "6.0"
DATA_API_VERSION = "3.0"

_Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FlowState:
    """A flow as it stands now: its space, its status (any text), and whether it was removed."""

    space: str
    flow: SeededFlow
    status: str
    removed: bool

    def as_json(self) -> _Json:
        """What the control route reports."""
        return {
            "space": self.space,
            "flow_id": self.flow.flow_id,
            "name": self.flow.name,
            "status": self.status,
            "removed": self.removed,
        }


class _Space:
    """One space's flows in ListFlow order, by ID, and with names folded for FlowName; the
    statuses set since the start, and the flows removed."""

    def __init__(self, flows: Sequence[SeededFlow]) -> None:
        self.flows = tuple(flows)
        self.by_id = {flow.flow_id: flow for flow in self.flows}
        self._folded = tuple(flow.name.casefold() for flow in self.flows)
        self.statuses: dict[str, str] = {}
        self.removed: set[str] = set()

    def named(self, name: str) -> Sequence[SeededFlow]:
        """The flows listed whose name holds `name`, ignoring case; all when `name` is empty."""
        flows: Sequence[SeededFlow] = self.flows
        if name:
            needle = name.casefold()
            pairs = zip(self.flows, self._folded, strict=True)
            flows = [flow for flow, folded in pairs if needle in folded]
        # Filtering only when something was removed keeps paging a large catalog a slice.
        if self.removed:
            flows = [flow for flow in flows if flow.flow_id not in self.removed]
        return flows

    def state(self, space: str, flow: SeededFlow) -> FlowState:
        """`flow`'s state in this space, called `space`."""
        status = self.statuses.get(flow.flow_id, flow.status.value)
        return FlowState(space, flow, status, flow.flow_id in self.removed)


_NO_FLOWS = _Space(())


class Spaces:
    """A catalog (flows by CustSpaceId) indexed for ListFlow and GetFlow; other spaces are empty.

    A removed flow is left out of ListFlow and not found by GetFlow until its status is set.
    """

    def __init__(self, catalog: Mapping[str, Sequence[SeededFlow]]) -> None:
        self._spaces = {space: _Space(flows) for space, flows in catalog.items()}

    def page(self, space: str, name: str, index: int, size: int) -> list[_Json]:
        """ListFlow's Data: page `index` (1-based) of `size` among the flows matching `name`.

        No total and no status: a page shorter than `size` is how a client knows it is the last.
        """
        start = (index - 1) * size
        return [
            {
                "FlowId": flow.flow_id,
                "FlowName": flow.name,
                "Categories": list(flow.summary.categories),
            }
            for flow in self._spaces.get(space, _NO_FLOWS).named(name)[start : start + size]
        ]

    def find(self, space: str, flow_id: str) -> FlowState | None:
        """The flow `flow_id` if `space` holds it and it was not removed."""
        held = self._spaces.get(space, _NO_FLOWS)
        flow = held.by_id.get(flow_id)
        if flow is None or flow_id in held.removed:
            return None
        return held.state(space, flow)

    def state(self, flow_id: str, space: str | None = None) -> FlowState:
        """The flow's state, removed or not, in `space` or in the one space that holds it."""
        name, held = self._locate(flow_id, space)
        return held.state(name, held.by_id[flow_id])

    def set_status(self, flow_id: str, status: str, space: str | None = None) -> FlowState:
        """Give the flow `status` (any short printable text), bringing it back if removed."""
        check_status(status)
        name, held = self._locate(flow_id, space)
        held.statuses[flow_id] = status
        held.removed.discard(flow_id)
        return held.state(name, held.by_id[flow_id])

    def remove(self, flow_id: str, space: str | None = None) -> FlowState:
        """Make the flow disappear from ListFlow and GetFlow until its status is set again."""
        name, held = self._locate(flow_id, space)
        held.removed.add(flow_id)
        return held.state(name, held.by_id[flow_id])

    def _locate(self, flow_id: str, space: str | None) -> tuple[str, _Space]:
        if space is not None:
            held = self._spaces.get(space)
            if held is None or flow_id not in held.by_id:
                raise UnknownFlowError(flow_id, space)
            return space, held
        found = [(name, held) for name, held in self._spaces.items() if flow_id in held.by_id]
        if not found:
            raise UnknownFlowError(flow_id, None)
        if len(found) > 1:
            raise AmbiguousFlowError(flow_id, (name for name, _ in found))
        return found[0]


def details(state: FlowState, preview_url: str, expires_ms: int) -> _Json:
    """GetFlow's Data for a flow, with the preview link GetFlowPreviewUrl would give."""
    flow = state.flow
    return {
        "FlowId": flow.flow_id,
        "FlowName": flow.name,
        "Status": state.status,
        "Categories": list(flow.summary.categories),
        "JSONVersion": JSON_VERSION,
        "DataApiVersion": DATA_API_VERSION,
        "EndpointUri": "",
        "PreviewUrl": preview_url,
        "PreviewUrlExpires": expires_ms,
    }


def read_page(text: str | None) -> tuple[int, int]:
    """ListFlow's Page, one JSON parameter `{"Index":n,"Size":m}` (1-based): (index, size).

    An absent Page, Index or Size takes the default (the first page of 20); anything else that
    is not a whole number in range raises ValueError with the message CAMS would send.
    """
    if text is None:
        return 1, DEFAULT_PAGE_SIZE
    try:
        page = json.loads(text)
    except (ValueError, RecursionError):
        page = None
    if not isinstance(page, dict):
        # ValueError, as for every other bad Page: the caller turns each into InvalidParameter.
        raise ValueError('Page must be a JSON object such as {"Index":1,"Size":20}.')  # noqa: TRY004
    index = page.get("Index", 1)
    size = page.get("Size", DEFAULT_PAGE_SIZE)
    if not _whole(index) or index < 1:
        raise ValueError("Page.Index must be a whole number from 1.")
    if not _whole(size) or not 1 <= size <= MAX_PAGE_SIZE:
        raise ValueError(f"Page.Size must be a whole number from 1 to {MAX_PAGE_SIZE}.")
    return index, size


def page_index(text: str | None) -> int | None:
    """The page a ListFlow asks for, for fault rules; None when Page is not readable."""
    try:
        return read_page(text)[0]
    except ValueError:
        return None


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
