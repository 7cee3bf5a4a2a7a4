"""The one HTTP exchange every credential provider makes: bounded in time and size, and with
failures told as CredentialsError without the request (its headers may hold a secret)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

from bot import __version__
from bot.cams.credentials.base import CredentialsError

USER_AGENT = f"flowpreview/{__version__} aiohttp/{aiohttp.__version__}"
# Credentials answers are well under a kilobyte; anything larger is not the service talking.
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer, read in full."""

    status: int
    body: bytes


class HttpLink:
    """A session of its own, opened at the first call, for one provider's calls.

    Refreshes are minutes or hours apart, so no connection is kept alive between them: a kept
    one would be long closed by the other side, and reusing it would fail a refresh for nothing.
    """

    def __init__(self, *, connect_timeout: float, timeout: float) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    async def call(
        self,
        method: str,
        url: URL,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Answer:
        """Make one request to `what` (named in errors) and read its answer, bounded."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(force_close=True, limit=4),
                headers={"User-Agent": USER_AGENT},
                skip_auto_headers=("Content-Type",),
            )
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=body,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                return Answer(response.status, await _read_bounded(response, what))
        except TimeoutError:
            raise CredentialsError(
                f"no answer from {what} within {self._timeout.total:g}s"
            ) from None
        except aiohttp.ClientError as exc:
            # Only the type: aiohttp's messages and reprs can carry the request's headers.
            raise CredentialsError(f"cannot reach {what}: {type(exc).__name__}") from None

    async def close(self) -> None:
        """Close the session, if one was opened."""
        if self._session is not None:
            await self._session.close()
            self._session = None


async def _read_bounded(response: aiohttp.ClientResponse, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(16 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise CredentialsError(f"{what} answered more than {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
