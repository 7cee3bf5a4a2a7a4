"""ListFlow and GetFlow over a seeded catalog: paging, FlowName matching, the Data they send."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot.standin.cams.catalog import SeededFlow

# ListFlow's Page when it is absent, and the largest Size it accepts.
DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
# What GetFlow reports about every flow's JSON; the emulator has no flow JSON of its own.
JSON_VERSION = "6.0"
DATA_API_VERSION = "3.0"

_Json = dict[str, Any]


class _Space:
    """One space's flows in ListFlow order, by ID, and with names folded for FlowName."""

    def __init__(self, flows: Sequence[SeededFlow]) -> None:
        self.flows = tuple(flows)
        self.by_id = {flow.flow_id: flow for flow in self.flows}
        self._folded = tuple(flow.name.casefold() for flow in self.flows)

    def named(self, name: str) -> Sequence[SeededFlow]:
        """The flows whose name holds `name`, ignoring case; all of them when `name` is empty."""
        if not name:
            return self.flows
        needle = name.casefold()
        return [f for f, folded in zip(self.flows, self._folded, strict=True) if needle in folded]


_NO_FLOWS = _Space(())


class Spaces:
    """A catalog (flows by CustSpaceId) indexed for ListFlow and GetFlow; other spaces are empty."""

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

    def find(self, space: str, flow_id: str) -> SeededFlow | None:
        """The flow `flow_id` if `space` holds it."""
        return self._spaces.get(space, _NO_FLOWS).by_id.get(flow_id)


def details(flow: SeededFlow, preview_url: str, expires_ms: int) -> _Json:
    """GetFlow's Data for `flow`, with the preview link GetFlowPreviewUrl would give."""
    return {
        "FlowId": flow.flow_id,
        "FlowName": flow.name,
        "Status": flow.status.value,
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
