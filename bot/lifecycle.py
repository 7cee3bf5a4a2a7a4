"""`async with` for the objects that hold connections and have an async `close()`."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncCloseable:
    """Closes itself when an `async with` block ends."""

    async def close(self) -> None:
        """Let go of what this object holds."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
