"""Listing every flow of a space: ListFlow page after page, until a short page ends the list."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.cams.models import FlowPage, FlowSummary

# Pages asked beyond what `max_flows` needs, for flows listed twice while the list shifted;
# past them a server that keeps sending full pages of repeats is cut off.
SPARE_PAGES = 10


class FlowLister(Protocol):
    """The part of the CAMS client the catalog uses."""

    @property
    def account(self) -> str:
        """The Alibaba account (AccessKey ID) the client calls as."""

    def space_for(self, space: str | None) -> str | None:
        """The CustSpaceId a call with `space` uses: the configured default when None."""

    async def list_flows(
        self, space: str | None = None, *, page: int = 1, size: int = 100
    ) -> FlowPage:
        """One page of ListFlow, through the client's ListFlow gate and retries."""


@dataclass(frozen=True, slots=True)
class Listing:
    """Every flow of a space as listed at `fetched_at` (wall-clock epoch seconds, when the
    listing began); `truncated` when the list went on past the bound and was cut there."""

    flows: tuple[FlowSummary, ...]
    fetched_at: float
    truncated: bool = False


async def list_all(
    client: FlowLister,
    space: str | None,
    *,
    page_size: int,
    max_flows: int,
    fetched_at: float,
    between_pages: Callable[[], Awaitable[None]],
) -> Listing:
    """Page through ListFlow from page 1 until a page shorter than `page_size`.

    A list that is an exact multiple of the size ends with an empty page. Flows listed twice
    (the list changed between pages) are kept once. Stops at `max_flows`, marking the listing
    truncated when the list went on. `between_pages` runs before each page after the first
    (the refresh renews its lock there). Raises whatever the client raises; nothing listed
    so far is returned then.
    """
    flows: dict[str, FlowSummary] = {}
    last_page = -(-max_flows // page_size) + SPARE_PAGES
    page = 1
    while True:
        if page > last_page:
            return Listing(tuple(flows.values()), fetched_at, truncated=True)
        if page > 1:
            await between_pages()
        result = await client.list_flows(space, page=page, size=page_size)
        for flow in result.flows:
            flows.setdefault(flow.flow_id, flow)
        more = len(result.flows) >= page_size
        if len(flows) >= max_flows:
            truncated = more or len(flows) > max_flows
            return Listing(tuple(flows.values())[:max_flows], fetched_at, truncated)
        if not more:
            return Listing(tuple(flows.values()), fetched_at)
        page += 1
