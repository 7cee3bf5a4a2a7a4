"""What the command line's tests share: the flow IDs they ask for, and typed input."""

from __future__ import annotations

from collections.abc import AsyncIterator

# Flow IDs as CAMS shapes them (10 to 20 digits): `get` refuses anything else before any call.
OK, FLAKY = "1000000000000001", "1000000000000002"


async def typed_lines(*lines: str) -> AsyncIterator[str]:
    """`lines` as the demo's terminal reads typed input: one at a time."""
    for line in lines:
        yield line
