"""The signer reproduces every vector the official Alibaba SDK computed, for every action."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from bot.cams import signing
from bot.cams.client import page_parameter
from tests.sdk_signing import compute_vectors, render
from tests.support import DATA

VECTORS: dict[str, Any] = json.loads(
    (DATA / "cams-signing-vectors.json").read_text(encoding="utf-8")
)
FLOW_VECTORS_FILE = DATA / "cams-flow-signing-vectors.json"
FLOW_VECTORS: dict[str, Any] = json.loads(FLOW_VECTORS_FILE.read_text(encoding="utf-8"))
FLOW_ALL = [*FLOW_VECTORS["vectors"], *FLOW_VECTORS["direct_signer_vectors"]]
ALL = [
    *VECTORS["vectors"],
    *VECTORS["direct_signer_vectors"],
    VECTORS["doc_anchor"],
    *FLOW_ALL,
]


def _secret(vector: dict[str, Any]) -> tuple[str, str]:
    inputs = vector["inputs"]
    return inputs["access_key_id"], inputs["access_key_secret"]


@pytest.mark.parametrize("vector", ALL, ids=[v["name"] for v in ALL])
def test_reproduces_sdk_authorization(vector: dict[str, Any]) -> None:
    request = vector["request"]
    key_id, secret = _secret(vector)
    body_hash = hashlib.sha256(request["body"].encode()).hexdigest()
    query = signing.canonical_query(request["query"])

    canonical, _ = signing.canonical_request(
        request["method"], request["path"], query, request["headers_before_signing"], body_hash
    )
    header = signing.authorization(
        access_key_id=key_id,
        secret=secret,
        method=request["method"],
        path=request["path"],
        query=query,
        headers=request["headers_before_signing"],
        body_sha256=body_hash,
    )

    assert canonical == vector["expected"]["canonical_request"]
    assert header == vector["expected"]["authorization"]


def test_vectors_cover_the_hard_cases() -> None:
    flow_ids = {v["request"]["query"].get("FlowId", "") for v in ALL}
    assert any(" " in f for f in flow_ids)
    assert any("*" in f and "~" in f and "+" in f for f in flow_ids)
    assert any(not f.isascii() for f in flow_ids)
    assert any(v["inputs"].get("security_token") for v in ALL)


def test_flow_vectors_cover_each_action_and_the_hard_cases() -> None:
    actions = {v["request"]["headers_before_signing"]["x-acs-action"] for v in FLOW_ALL}
    names = [v["request"]["query"].get("FlowName", "") for v in FLOW_ALL]
    assert actions == {"ListFlow", "GetFlow"}
    assert "Café & co/ü" in names
    assert any("*" in n and "~" in n and "+" in n and "%" in n for n in names)
    assert all(
        "Page" in v["request"]["query"] for v in FLOW_ALL if "FlowName" in v["request"]["query"]
    )
    for action in ("ListFlow", "GetFlow"):
        assert any(
            v["inputs"]["security_token"]
            and v["request"]["headers_before_signing"]["x-acs-action"] == action
            for v in FLOW_ALL
        ), f"an STS vector for {action}"


def test_the_stored_flow_vectors_are_what_the_official_sdk_computes() -> None:
    # The file's provenance, checked: the installed SDK computes it again, byte for byte,
    # but for the versions it names (a newer helper package that signs alike is no news).
    computed = compute_vectors() | {"sdk_versions": FLOW_VECTORS["sdk_versions"]}
    assert render(computed) == FLOW_VECTORS_FILE.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "vector",
    [v for v in FLOW_VECTORS["vectors"] if v["inputs"]["action"] == "ListFlow"],
    ids=lambda v: v["name"],
)
def test_the_page_parameter_is_the_one_the_sdk_sends(vector: dict[str, Any]) -> None:
    page = vector["inputs"]["sdk_request"]["page"]
    assert page_parameter(page["index"], page["size"]) == vector["request"]["query"]["Page"]


@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        ("a b", "a%20b"),
        ("a*b~c+d", "a%2Ab~c%2Bd"),
        ("流", "%E6%B5%81"),
        ("-_.~", "-_.~"),
        ("a/b?c=d&e%f", "a%2Fb%3Fc%3Dd%26e%25f"),
    ],
)
def test_percent_encoding(raw: str, encoded: str) -> None:
    assert signing.percent_encode(raw) == encoded


def test_parse_authorization_round_trip() -> None:
    header = signing.authorization(
        access_key_id="id",
        secret="s",
        method="POST",
        path="/",
        query="FlowId=1",
        headers={"host": "h", "x-acs-date": "d"},
    )
    parsed = signing.parse_authorization(header)
    assert parsed is not None
    assert parsed.access_key_id == "id"
    assert parsed.signed_headers == ("host", "x-acs-date")
    assert len(parsed.signature) == 64


@pytest.mark.parametrize(
    "value",
    ["", "Bearer abc", "ACS3-HMAC-SHA256 Credential=id", "ACS3-HMAC-SHA256 junk"],
)
def test_parse_authorization_rejects_other_shapes(value: str) -> None:
    assert signing.parse_authorization(value) is None
