"""ListFlow and GetFlow calls to the CAMS emulator, signed by our own signer so that tests of
the emulator do not depend on the client."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from bot.cams import signing
from bot.cams.client import API_VERSION
from bot.cams.credentials import Credentials
from bot.standin.cams.catalog import DEMO_SPACE
from bot.standin.cams.server import DEMO_CREDENTIALS


@dataclass(frozen=True)
class Answer:
    """An HTTP status and the JSON body with it (empty when the body was not JSON)."""

    status: int
    body: dict[str, Any]

    @property
    def code(self) -> str | None:
        """CAMS's `Code`, if the body has one."""
        return self.body.get("Code")


async def signed_call(
    url: str,
    action: str,
    params: dict[str, str],
    credentials: Credentials = DEMO_CREDENTIALS,
) -> Answer:
    """One CAMS RPC call signed with ACS3-HMAC-SHA256, as a client on the wire makes it."""
    query = signing.canonical_query(params)
    headers = {
        "host": url.removeprefix("http://"),
        "x-acs-action": action,
        "x-acs-version": API_VERSION,
        "x-acs-date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": signing.EMPTY_BODY_SHA256,
    }
    headers["Authorization"] = signing.authorization(
        access_key_id=credentials.access_key_id,
        secret=credentials.access_key_secret.reveal(),
        method="POST",
        path="/",
        query=query,
        headers=headers,
    )
    async with (
        aiohttp.ClientSession() as session,
        session.post(URL(f"{url}/?{query}", encoded=True), headers=headers) as response,
    ):
        text = await response.text()
        # A gateway error page is not JSON: keep the status, and an empty body.
        return Answer(response.status, json.loads(text) if text.startswith("{") else {})


def page_param(index: int, size: int) -> str:
    """ListFlow's `Page` parameter, as compact JSON."""
    return json.dumps({"Index": index, "Size": size}, separators=(",", ":"))


async def list_page(url: str, space: str, index: int, size: int, name: str | None = None) -> Answer:
    """One page of `space`'s flows, those whose name matches `name` if given."""
    params = {"CustSpaceId": space, "Page": page_param(index, size)}
    if name is not None:
        params["FlowName"] = name
    return await signed_call(url, "ListFlow", params)


async def list_all_pages(url: str, space: str, size: int) -> list[list[str]]:
    """Every page of `space` up to the first short one, as lists of flow IDs."""
    pages: list[list[str]] = []
    while not pages or len(pages[-1]) == size:
        answer = await list_page(url, space, len(pages) + 1, size)
        assert (answer.status, answer.code) == (200, "OK"), answer.body
        pages.append([flow["FlowId"] for flow in answer.body["Data"]])
    return pages


async def get_flow(url: str, flow_id: str, space: str = DEMO_SPACE) -> Answer:
    """GetFlow of `flow_id` in `space`."""
    return await signed_call(url, "GetFlow", {"FlowId": flow_id, "CustSpaceId": space})
