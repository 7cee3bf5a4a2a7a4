"""How `tests/data/cams-flow-signing-vectors.json` was computed: by the official SDK's own code.

For each case, alibabacloud-cams20200606's request path runs (`list_flow_with_options` or
`get_flow_with_options`, the SDK's synchronous path) with a pinned date, nonce and user agent,
and stops at its transport: what the SDK's signer hashed is captured by a spy on its own hash,
and the request it would have sent is recorded as it stands. `direct_signer_vectors` hand our
client's own, smaller header set to the SDK's signer (`Utils.get_authorization`).

Regenerate with `python -m tests.sdk_signing > tests/data/cams-flow-signing-vectors.json`;
`test_signing.py` checks that the stored file is what the installed SDK computes.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from unittest import mock

from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi import client as openapi_client
from alibabacloud_tea_openapi import utils as openapi_utils
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

DATE = "2023-11-22T01:43:56Z"
NONCE = "3156853299f313e23d1673dc12e1703d"
USER_AGENT = "AlibabaCloud (Linux; x86_64) Python/3.11.7 Core/0.4.3 TeaDSL/2"
ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
HOST = "cams.ap-southeast-1.aliyuncs.com"
KEY_ID, SECRET = "testid", "testsecret"
STS_TOKEN = "CAIS+testSTS/token==with+special/chars"
SDK_DISTRIBUTIONS = (
    "alibabacloud-cams20200606",
    "alibabacloud-tea-openapi",
    "alibabacloud-credentials",
    "darabonba-core",
)


@dataclass(frozen=True)
class Case:
    """One call as the SDK is asked to make it."""

    name: str
    action: str
    params: dict[str, Any]
    security_token: str | None = None
    notes: list[str] = field(default_factory=list)


SDK_CASES = [
    Case(
        "list_flow_first_page",
        "ListFlow",
        {"cust_space_id": "cams-8c8x9l****", "page": {"index": 1, "size": 100}},
    ),
    Case(
        "list_flow_odd_name_sts",
        "ListFlow",
        {
            "cust_space_id": "cams-8c8x9l****",
            "flow_name": "Café & co/ü",
            "page": {"index": 3, "size": 20},
        },
        security_token=STS_TOKEN,
        notes=["FlowName with an accent, '&', '/', and a space; Page on page 3 of 20"],
    ),
    Case(
        "list_flow_name_with_reserved_characters",
        "ListFlow",
        {
            "cust_space_id": "空间 1",
            "flow_name": "Sign-up v3 *beta* ~(50% off)+more=?#",
            "page": {"index": 12, "size": 7},
        },
    ),
    Case(
        "get_flow",
        "GetFlow",
        {"flow_id": "926753328126431", "cust_space_id": "cams-8c8x9l****"},
    ),
    Case(
        "get_flow_sts_odd_id",
        "GetFlow",
        {"flow_id": "a b*c~d+e 流", "cust_space_id": "x y*z~+%"},
        security_token=STS_TOKEN,
    ),
]

# Our client's header set: host and the x-acs-* headers, nothing else.
DIRECT_CASES = [
    (
        "direct_list_flow_minimal_headers",
        "ListFlow",
        {
            "CustSpaceId": "cams-8c8x9l****",
            "FlowName": "Café & co/ü",
            "Page": '{"Index":2,"Size":100}',
        },
        None,
    ),
    (
        "direct_get_flow_minimal_headers_sts",
        "GetFlow",
        {"CustSpaceId": "cams-8c8x9l****", "FlowId": "926753328126431"},
        STS_TOKEN,
    ),
]


class _Stop(Exception):
    """Raised in place of the transport: the request is complete and signed by then."""


@dataclass
class _Seen:
    """What the pinned SDK hashed, and the requests it handed to its transport."""

    hashed: list[bytes] = field(default_factory=list)
    signed: list[str] = field(default_factory=list)
    sent: list[Any] = field(default_factory=list)


@contextmanager
def _pinned_sdk() -> Iterator[_Seen]:
    """The SDK with a fixed date, nonce and user agent and no transport."""
    seen = _Seen()
    original_hash = openapi_utils.Utils.hash
    original_sign = openapi_utils.signature_method

    def spy_hash(raw: bytes, sign_type: str) -> Any:
        seen.hashed.append(bytes(raw))
        return original_hash(raw, sign_type)

    def spy_sign(secret: str, source: str, sign_type: str) -> Any:
        seen.signed.append(source)
        return original_sign(secret, source, sign_type)

    def stop(request: Any, runtime: Any) -> Any:
        seen.sent.append(request)
        raise _Stop

    with (
        mock.patch.object(openapi_utils.Utils, "get_timestamp", staticmethod(lambda: DATE)),
        mock.patch.object(openapi_utils.Utils, "get_nonce", staticmethod(lambda: NONCE)),
        mock.patch.object(
            openapi_utils.Utils, "get_user_agent", staticmethod(lambda agent: USER_AGENT)
        ),
        mock.patch.object(openapi_utils.Utils, "hash", staticmethod(spy_hash)),
        mock.patch.object(openapi_utils, "signature_method", spy_sign),
        mock.patch.object(openapi_client.DaraCore, "do_action", staticmethod(stop)),
    ):
        yield seen


def _sdk_request(case: Case) -> tuple[Any, dict[str, str]]:
    """The request the SDK would send for `case`, and what it signed."""
    config = Config(
        access_key_id=KEY_ID,
        access_key_secret=SECRET,
        security_token=case.security_token,
        region_id="ap-southeast-1",
    )
    client = Client(config)
    with _pinned_sdk() as seen, contextlib.suppress(Exception):
        # The SDK wraps what its transport raises in exceptions of its own.
        if case.action == "ListFlow":
            params = dict(case.params)
            page = models.ListFlowRequestPage(**params.pop("page"))
            request = models.ListFlowRequest(page=page, **params)
            client.list_flow_with_options(request, RuntimeOptions())
        else:
            client.get_flow_with_options(models.GetFlowRequest(**case.params), RuntimeOptions())
    (sent,) = seen.sent
    return sent, _expected(seen, sent.headers["Authorization"])


def _expected(seen: _Seen, authorization: str) -> dict[str, str]:
    """What the SDK's signer hashed and signed, and the Authorization it made of them."""
    (canonical,) = [raw for raw in seen.hashed if raw.startswith(b"POST\n")]
    (string_to_sign,) = seen.signed
    fields = dict(part.split("=", 1) for part in authorization.split(" ", 1)[1].split(","))
    return {
        "canonical_request": canonical.decode(),
        "string_to_sign": string_to_sign,
        "signed_headers": fields["SignedHeaders"],
        "signature": fields["Signature"],
        "authorization": authorization,
    }


def sdk_vector(case: Case) -> dict[str, Any]:
    """One vector: the inputs, the request as the SDK built it, and what it signed."""
    request, expected = _sdk_request(case)
    headers = {k: v for k, v in request.headers.items() if k != "Authorization"}
    return {
        "name": case.name,
        "notes": case.notes,
        "inputs": {
            "access_key_id": KEY_ID,
            "access_key_secret": SECRET,
            "security_token": case.security_token,
            "region_id": "ap-southeast-1",
            "action": case.action,
            "version": "2020-06-06",
            "sdk_request": case.params,
            "x_acs_date": DATE,
            "x_acs_signature_nonce": NONCE,
            "user_agent": USER_AGENT,
        },
        "request": {
            "method": request.method,
            "host": headers["host"],
            "path": request.pathname,
            "query": dict(request.query),
            "headers_before_signing": headers,
            "body": "",
        },
        "expected": expected,
    }


def direct_vector(
    name: str, action: str, query: dict[str, str], token: str | None
) -> dict[str, Any]:
    """The SDK's signer over the headers our client sends."""
    headers = {
        "host": HOST,
        "x-acs-action": action,
        "x-acs-version": "2020-06-06",
        "x-acs-date": DATE,
        "x-acs-signature-nonce": NONCE,
        "x-acs-content-sha256": EMPTY_SHA256,
    }
    if token is not None:
        headers["x-acs-security-token"] = token
    request = openapi_client.DaraRequest()
    request.method, request.pathname = "POST", "/"
    request.query, request.headers = dict(query), dict(headers)
    with _pinned_sdk() as seen:
        authorization = openapi_utils.Utils.get_authorization(
            request, ALGORITHM, EMPTY_SHA256, KEY_ID, SECRET
        )
    return {
        "name": name,
        "inputs": {
            "access_key_id": KEY_ID,
            "access_key_secret": SECRET,
            "security_token": token,
        },
        "request": {
            "method": "POST",
            "host": HOST,
            "path": "/",
            "query": query,
            "headers_before_signing": headers,
            "body": "",
        },
        "expected": _expected(seen, authorization),
    }


def compute_vectors() -> dict[str, Any]:
    """The whole file, as the installed SDK computes it."""
    return {
        "description": (
            "ACS3-HMAC-SHA256 signing vectors for CAMS ListFlow and GetFlow (2020-06-06), "
            "computed by the official Python SDK with pinned date, nonce and user agent, "
            "stopped at its transport. tests/sdk_signing.py made this file."
        ),
        "sdk_versions": {name: metadata.version(name) for name in SDK_DISTRIBUTIONS},
        "notes": [
            "ListFlow's Page travels as ONE query parameter holding compact JSON, "
            'Index before Size: Page={"Index":1,"Size":100}.',
            "vectors: the SDK's own request path, which signs every header it sets "
            "(accept, user-agent, x-acs-credentials-provider among them).",
            "direct_signer_vectors: the SDK's signer over the header set our client sends.",
        ],
        "vectors": [sdk_vector(case) for case in SDK_CASES],
        "direct_signer_vectors": [direct_vector(*case) for case in DIRECT_CASES],
    }


def render(vectors: dict[str, Any]) -> str:
    """The file's text: indented JSON, non-ASCII kept as it is."""
    return json.dumps(vectors, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(compute_vectors()), end="")
