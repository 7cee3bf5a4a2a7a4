"""The CAMS emulator: what the official SDK sees, the flow catalog, paging, throttling, faults."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import aiohttp
import pytest
from alibabacloud_cams20200606 import models
from alibabacloud_cams20200606.client import Client
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions
from yarl import URL

from bot.cams.actions import Action
from bot.cams.credentials import Credentials
from bot.cams.errors import CamsError, ErrorKind
from bot.config import Secret
from bot.standin.cams.catalog import (
    ACME_SPACE,
    DEMO_SPACE,
    SeededFlow,
    catalog_of_size,
    default_catalog,
    make_flows,
)
from bot.standin.cams.faults import Call, Fault, FaultRule
from bot.standin.cams.server import DEMO_CREDENTIALS, arrival_key
from bot.standin.cams.window import SlidingWindow, busiest_window, max_in_window
from bot.standin.harness.emulator import OTHER_CREDENTIALS, RunningEmulator, running_emulator
from tests.shared.emulator import get_flow, list_all_pages, list_page, page_param, signed_call


def _sdk_client(cams: RunningEmulator, secret: str) -> Any:
    endpoint = cams.url.removeprefix("http://")
    config = Config(
        access_key_id=DEMO_CREDENTIALS.access_key_id,
        access_key_secret=secret,
        endpoint=endpoint,
        protocol="http",
    )
    return Client(config)


async def _sdk_call(client: Any, flow_id: str, space: str | None) -> Any:
    request = models.GetFlowPreviewUrlRequest(flow_id=flow_id, cust_space_id=space)
    return await client.get_flow_preview_url_with_options_async(request, RuntimeOptions())


async def test_official_sdk_succeeds_with_the_right_secret(cams: RunningEmulator) -> None:
    client = _sdk_client(cams, DEMO_CREDENTIALS.access_key_secret.reveal())
    response = await _sdk_call(client, "a b*c~d+e 流", "x y*z~+%")

    assert response.status_code == 200
    assert response.body.code == "OK"
    assert response.body.data.flow_id == "a b*c~d+e 流"
    assert response.body.data.preview_url.startswith("https://")


async def test_official_sdk_gets_signature_does_not_match_with_a_wrong_secret(
    cams: RunningEmulator,
) -> None:
    client = _sdk_client(cams, "wrong-secret")
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the SDK raises its own base type
        await _sdk_call(client, "1234567890", None)

    error: Any = caught.value
    assert error.code == "SignatureDoesNotMatch"
    assert error.statusCode == 400


async def test_links_are_stable_per_space_and_flow(cams: RunningEmulator) -> None:
    async with cams.client() as client:
        first = await client.get_flow_preview_url("1", "s1")
        again = await client.get_flow_preview_url("1", "s1")
        other_space = await client.get_flow_preview_url("1", "s2")
        other_flow = await client.get_flow_preview_url("2", "s1")

    assert (first.preview_url, first.expires_at) == (again.preview_url, again.expires_at)
    assert len({first.preview_url, other_space.preview_url, other_flow.preview_url}) == 3


async def test_links_are_reissued_after_they_expire() -> None:
    now = [1_700_000_000.0]
    async with (
        running_emulator(link_ttl=60, wall_clock=lambda: now[0]) as cams,
        cams.client(wall_clock=lambda: now[0]) as client,
    ):
        first = await client.get_flow_preview_url("1")
        now[0] += 61
        second = await client.get_flow_preview_url("1")
    assert first.expires_at.timestamp() == pytest.approx(1_700_000_060)
    assert second.preview_url != first.preview_url
    assert second.expires_at > first.expires_at


async def test_throttles_beyond_five_calls_per_second_per_account() -> None:
    async with running_emulator(qps=5) as cams:
        once = cams.settings(max_attempts=1)
        async with cams.client(settings=once) as demo, cams.client(OTHER_CREDENTIALS) as other:
            results = await asyncio.gather(
                *(demo.get_flow_preview_url(str(i)) for i in range(8)), return_exceptions=True
            )
            await other.get_flow_preview_url("another account has its own budget")
    throttled = [r for r in results if isinstance(r, CamsError)]
    assert len(throttled) == 3
    assert all(r.kind is ErrorKind.THROTTLED and r.code == "Throttling.User" for r in throttled)
    assert all(r.retry_after is not None and 0 < r.retry_after <= 1 for r in throttled)
    assert cams.outcomes().count("OK") == 6


async def test_unknown_key_unsigned_headers_replays_and_bad_bodies_are_refused(
    cams: RunningEmulator,
) -> None:
    async with cams.client(Credentials("nobody", Secret("x"))) as client:
        with pytest.raises(CamsError) as caught:
            await client.get_flow_preview_url("1")
    assert caught.value.code == "InvalidAccessKeyId.NotFound"

    async with cams.client() as client:
        await client.get_flow_preview_url("1")
    replay = dict(cams.emulator.recorded[-1].headers)
    async with aiohttp.ClientSession() as session:
        answers = []
        for headers in (
            replay,
            {**replay, "x-acs-extra": "unsigned"},
            {k: v for k, v in replay.items() if k != "Authorization"},
        ):
            async with session.post(f"{cams.url}/?FlowId=1", headers=headers) as response:
                answers.append((response.status, (await response.json())["Code"]))
    assert answers == [
        (400, "SignatureNonceUsed"),
        (400, "IncompleteSignature"),
        (400, "IncompleteSignature"),
    ]


async def test_faults_by_flow_by_count_and_by_rate() -> None:
    rules = ["error:Product.Unsubscript@flow:a*1", "malformed@rate:0.5"]
    async with (
        running_emulator(seed=7) as cams,
        cams.client(settings=cams.settings(max_attempts=1)) as client,
    ):
        cams.fault(*rules)
        outcomes = []
        for flow_id in ["a", "a", *[str(i) for i in range(200)]]:
            try:
                await client.get_flow_preview_url(flow_id)
                outcomes.append("OK")
            except CamsError as error:
                outcomes.append(error.code or error.kind.value)
    assert outcomes[0] == "Product.Unsubscript"
    assert outcomes[1] in ("OK", "malformed_response")
    assert 60 < outcomes[2:].count("malformed_response") < 140


async def test_control_endpoints(cams: RunningEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.put(
            f"{cams.url}/_emulator/faults", json={"rules": ["http:503@flow:z"]}
        ) as response:
            assert response.status == 200
        async with session.put(f"{cams.url}/_emulator/faults", json={"rules": ["bogus"]}) as bad:
            assert bad.status == 400
        async with cams.client(settings=cams.settings(max_attempts=1)) as client:
            await client.get_flow_preview_url("y")
            with pytest.raises(CamsError):
                await client.get_flow_preview_url("z")
        async with session.get(f"{cams.url}/_emulator/stats") as response:
            stats = await response.json()
        async with session.post(f"{cams.url}/_emulator/reset") as response:
            assert response.status == 200
    assert stats["counts"] == {"OK": 1, "http:503": 1}
    assert stats["by_flow"] == {"y": 1, "z": 1}
    assert stats["max_in_any_second"] == {DEMO_CREDENTIALS.access_key_id: 2}
    assert cams.emulator.stats()["received"] == 0


@pytest.mark.parametrize(
    "text",
    [
        "latency:2.5@flow:123",
        "drop@rate:0.1",
        "error:Ram.PermissionDeny@all",
        "http:503@flow:x*2",
        "throttle:1500@all",
        "throttle@all",
        "insecure-url@flow:a@b",
    ],
)
def test_fault_rules_parse(text: str) -> None:
    assert FaultRule.parse(text).text == text


@pytest.mark.parametrize(
    "text",
    [
        "drop",
        "drop@",
        "drop@rate:0",
        "drop@rate:1.5",
        "drop@rate:nan",
        "drop@flow:",
        "drop@all*0",
        "latency:-1@all",
        "latency:nan@all",
        "http:200@all",
        "error:@all",
        "explode@all",
    ],
)
def test_bad_fault_rules_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"fault|count|target"):
        FaultRule.parse(text)


def test_fault_argument_is_kept() -> None:
    assert FaultRule.parse("latency:2@all").fault == Fault("latency", "2")


def test_sliding_window_admits_the_budget_in_any_second() -> None:
    window = SlidingWindow(2)
    assert window.admit(0.0) is None
    assert window.admit(0.5) is None
    assert window.admit(0.9) == pytest.approx(0.1)
    assert window.admit(1.0) is None
    assert window.admit(1.2) == pytest.approx(0.3)


def test_max_in_window() -> None:
    assert max_in_window([]) == 0
    assert max_in_window([0.0, 0.2, 0.4, 0.99, 1.0, 1.1]) == 5
    assert max_in_window([0.0, 0.5, 1.0, 1.5]) == 2
    assert max_in_window([0.0, 1.0, 2.0]) == 1


def test_busiest_window() -> None:
    assert busiest_window([]) == []
    assert busiest_window([0.0, 0.2, 0.4, 0.99, 1.0, 1.1]) == [0.2, 0.4, 0.99, 1.0, 1.1]
    assert busiest_window([0.0, 1.0, 2.0]) == [0.0]


# ListFlow and GetFlow, signed by our own signer (tests/shared/emulator.py) so that these tests
# do not depend on the client.


def _ids(flows: list[SeededFlow]) -> list[str]:
    return [flow.flow_id for flow in flows]


async def test_official_sdk_lists_and_gets_flows(cams: RunningEmulator) -> None:
    client = _sdk_client(cams, DEMO_CREDENTIALS.access_key_secret.reveal())
    listed = await client.list_flow_with_options_async(
        models.ListFlowRequest(
            cust_space_id=DEMO_SPACE,
            flow_name="sign-UP",
            page=models.ListFlowRequestPage(index=1, size=2),
        ),
        RuntimeOptions(),
    )
    got = await client.get_flow_with_options_async(
        models.GetFlowRequest(flow_id="1234567890123401", cust_space_id=DEMO_SPACE),
        RuntimeOptions(),
    )

    assert listed.status_code == 200
    assert listed.body.code == "OK"
    assert [(f.flow_id, f.flow_name, f.categories) for f in listed.body.data] == [
        ("1234567890123456", "Sign-up v3", ["SIGN_UP"]),
        ("1234567890123401", "Sign-up v2", ["SIGN_UP"]),
    ]
    data = got.body.data
    assert (data.flow_id, data.flow_name, data.status) == (
        "1234567890123401",
        "Sign-up v2",
        "DEPRECATED",
    )
    assert (data.categories, data.jsonversion, data.data_api_version) == (["SIGN_UP"], "6.0", "3.0")
    assert data.preview_url.startswith("https://business.facebook.com/wa/manage/flows/")
    assert data.preview_url_expires > 0
    # The SDK sends Page as compact JSON in one query parameter.
    assert URL(cams.emulator.recorded[0].raw_path).query["Page"] == '{"Index":1,"Size":2}'


async def test_list_flow_pages_in_a_stable_order_and_a_short_page_ends_the_list() -> None:
    flows = make_flows(45, seed=5)
    async with running_emulator(catalog={"s": flows}) as cams:
        pages = await list_all_pages(cams.url, "s", 20)
    assert [len(page) for page in pages] == [20, 20, 5]
    assert [flow_id for page in pages for flow_id in page] == _ids(flows)


async def test_an_exact_multiple_of_the_page_size_ends_with_an_empty_page() -> None:
    flows = make_flows(40, seed=5)
    async with running_emulator(catalog={"s": flows}) as cams:
        pages = await list_all_pages(cams.url, "s", 20)
        beyond = await list_page(cams.url, "s", 9, 20)
    assert [len(page) for page in pages] == [20, 20, 0]
    assert [flow_id for page in pages for flow_id in page] == _ids(flows)
    assert (beyond.status, beyond.body["Data"]) == (200, [])


async def test_an_empty_space_and_an_unknown_space_list_nothing() -> None:
    async with running_emulator(catalog={"empty": []}) as cams:
        empty = await list_page(cams.url, "empty", 1, 20)
        unknown = await list_page(cams.url, "nobody-knows", 1, 20)
    assert (empty.status, empty.code, empty.body["Data"]) == (200, "OK", [])
    assert (unknown.status, unknown.code, unknown.body["Data"]) == (200, "OK", [])
    assert "TotalCount" not in empty.body


async def test_ten_thousand_flows_list_in_pages_of_one_hundred() -> None:
    catalog = catalog_of_size(10_000)
    async with running_emulator(catalog=catalog) as cams:
        pages = await list_all_pages(cams.url, DEMO_SPACE, 100)
        by_action = cams.emulator.stats()["by_action"]
    assert len(pages) == 101
    assert [flow_id for page in pages for flow_id in page] == _ids(catalog[DEMO_SPACE])
    assert by_action == {"ListFlow": 101}


async def test_flow_name_is_a_case_insensitive_substring_and_empty_lists_all(
    cams: RunningEmulator,
) -> None:
    demo = default_catalog()[DEMO_SPACE]
    wanted = [f.flow_id for f in demo if "sign-up" in f.name.casefold()]

    found = await list_page(cams.url, DEMO_SPACE, 1, 100, "SIGN-up")
    everything = await list_page(cams.url, DEMO_SPACE, 1, 100, "")
    second = await list_page(cams.url, DEMO_SPACE, 2, 1, "sign-up")
    accents = await list_page(cams.url, DEMO_SPACE, 1, 100, "CAFÉ")

    assert [f["FlowId"] for f in found.body["Data"]] == wanted
    assert {"Sign-up v3", "Sign-up v2"} <= {f["FlowName"] for f in found.body["Data"]}
    assert all(set(f) == {"FlowId", "FlowName", "Categories"} for f in found.body["Data"])
    assert [f["FlowId"] for f in everything.body["Data"]] == _ids(demo)
    assert [f["FlowId"] for f in second.body["Data"]] == wanted[1:2]
    assert "Café loyalty survey" in [f["FlowName"] for f in accents.body["Data"]]


async def test_list_flow_without_page_gives_the_first_twenty(cams: RunningEmulator) -> None:
    answer = await signed_call(cams.url, "ListFlow", {"CustSpaceId": DEMO_SPACE})
    assert [f["FlowId"] for f in answer.body["Data"]] == _ids(default_catalog()[DEMO_SPACE][:20])


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"Page": page_param(1, 20)}, "MissingParameter"),
        ({"CustSpaceId": "", "Page": page_param(1, 20)}, "MissingParameter"),
        ({"CustSpaceId": DEMO_SPACE, "Page": "Index=1"}, "InvalidParameter"),
        ({"CustSpaceId": DEMO_SPACE, "Page": "[1, 20]"}, "InvalidParameter"),
        ({"CustSpaceId": DEMO_SPACE, "Page": page_param(0, 20)}, "InvalidParameter"),
        ({"CustSpaceId": DEMO_SPACE, "Page": page_param(1, 0)}, "InvalidParameter"),
        ({"CustSpaceId": DEMO_SPACE, "Page": page_param(1, 101)}, "InvalidParameter"),
        ({"CustSpaceId": DEMO_SPACE, "Page": '{"Index":1,"Size":true}'}, "InvalidParameter"),
        ({"CustSpaceId": DEMO_SPACE, "Page": '{"Index":"1","Size":20}'}, "InvalidParameter"),
    ],
)
async def test_list_flow_refuses_a_missing_space_and_a_bad_page(
    cams: RunningEmulator, params: dict[str, str], code: str
) -> None:
    answer = await signed_call(cams.url, "ListFlow", params)
    assert (answer.status, answer.code) == (400, code)
    assert answer.body["Message"]


async def test_a_page_of_one_hundred_is_the_largest(cams: RunningEmulator) -> None:
    answer = await list_page(cams.url, DEMO_SPACE, 1, 100)
    assert (answer.status, len(answer.body["Data"])) == (200, 40)


async def test_get_flow_tells_status_and_shares_the_preview_link(cams: RunningEmulator) -> None:
    got = await get_flow(cams.url, "1234567890123402")
    link = await signed_call(
        cams.url, "GetFlowPreviewUrl", {"FlowId": "1234567890123402", "CustSpaceId": DEMO_SPACE}
    )

    assert (got.status, got.code) == (200, "OK")
    assert got.body["Data"] == {
        "FlowId": "1234567890123402",
        "FlowName": "Sign up \u2013 newsletter",
        "Status": "DRAFT",
        "Categories": ["SIGN_UP", "LEAD_GENERATION"],
        "JSONVersion": "6.0",
        "DataApiVersion": "3.0",
        "EndpointUri": "",
        "PreviewUrl": link.body["Data"]["PreviewUrl"],
        "PreviewUrlExpires": link.body["Data"]["PreviewUrlExpires"],
    }


async def test_get_flow_outside_its_space_is_not_found_and_needs_both_parameters(
    cams: RunningEmulator,
) -> None:
    acme_flow = default_catalog()[ACME_SPACE][0].flow_id
    elsewhere = await get_flow(cams.url, acme_flow)
    at_home = await signed_call(
        cams.url, "GetFlow", {"FlowId": acme_flow, "CustSpaceId": ACME_SPACE}
    )
    no_flow = await signed_call(cams.url, "GetFlow", {"CustSpaceId": DEMO_SPACE})
    no_space = await signed_call(cams.url, "GetFlow", {"FlowId": acme_flow})
    # GetFlowPreviewUrl gives a link for any flow, so load tests need no catalog.
    any_link = await signed_call(cams.url, "GetFlowPreviewUrl", {"FlowId": "42"})

    assert (elsewhere.status, elsewhere.code) == (404, "Flow.NotFound")
    assert (at_home.status, at_home.code) == (200, "OK")
    assert (no_flow.status, no_flow.code) == (400, "MissingParameter")
    assert '"FlowId"' in no_flow.body["Message"]
    assert (no_space.status, no_space.code) == (400, "MissingParameter")
    assert (any_link.status, any_link.code) == (200, "OK")


async def test_an_unknown_action_is_not_found(cams: RunningEmulator) -> None:
    answer = await signed_call(cams.url, "DeleteFlow", {"FlowId": "1"})
    assert (answer.status, answer.code) == (404, "InvalidAction.NotFound")


async def test_the_catalog_can_change_while_serving(cams: RunningEmulator) -> None:
    cams.emulator.set_catalog({"s": make_flows(3, seed=9)})
    first = await list_page(cams.url, "s", 1, 20)
    cams.emulator.set_catalog({"s": make_flows(5, seed=9)})
    second = await list_page(cams.url, "s", 1, 20)
    gone = await list_page(cams.url, DEMO_SPACE, 1, 20)
    assert (len(first.body["Data"]), len(second.body["Data"]), gone.body["Data"]) == (3, 5, [])


async def test_a_fault_can_fail_one_page_of_one_listing_once(cams: RunningEmulator) -> None:
    cams.fault("http:500@action:ListFlow+page:2*1")
    statuses = [(await list_page(cams.url, DEMO_SPACE, index, 10)).status for index in (1, 2, 2, 3)]
    preview = await signed_call(cams.url, "GetFlowPreviewUrl", {"FlowId": "1"})
    assert statuses == [200, 500, 200, 200]
    assert preview.status == 200
    assert cams.outcomes() == ["OK", "http:500", "OK", "OK", "OK"]


async def test_a_rule_without_an_action_concerns_previews_only(cams: RunningEmulator) -> None:
    cams.fault("error:Ram.PermissionDeny@all", "http:503@flow:1234567890123456")
    preview = await signed_call(cams.url, "GetFlowPreviewUrl", {"FlowId": "1"})
    listed = await list_page(cams.url, DEMO_SPACE, 1, 20)
    got = await get_flow(cams.url, "1234567890123456")

    assert (preview.status, preview.code) == (400, "Ram.PermissionDeny")
    assert json.loads(preview.body["AccessDeniedDetail"])["AuthAction"] == "cams:GetFlowPreviewUrl"
    assert (listed.status, got.status) == (200, 200)


@pytest.mark.parametrize("action", ["ListFlow", "GetFlow"])
async def test_permission_deny_names_the_action_it_denies(
    cams: RunningEmulator, action: str
) -> None:
    cams.fault(f"error:Ram.PermissionDeny@action:{action}")
    params = {"FlowId": "1234567890123456", "CustSpaceId": DEMO_SPACE}
    denied = await signed_call(cams.url, action, params)
    preview = await signed_call(cams.url, "GetFlowPreviewUrl", params)

    assert (denied.status, denied.code) == (400, "Ram.PermissionDeny")
    assert json.loads(denied.body["AccessDeniedDetail"])["AuthAction"] == f"cams:{action}"
    assert preview.status == 200


async def test_a_fault_can_target_one_flow_of_get_flow(cams: RunningEmulator) -> None:
    cams.fault("error:Flow.NotFound@action:GetFlow+flow:1234567890123456")
    hit = await get_flow(cams.url, "1234567890123456")
    miss = await get_flow(cams.url, "9876543210987654")
    assert (hit.status, hit.code, miss.status) == (404, "Flow.NotFound", 200)


async def test_each_action_of_each_account_has_its_own_budget() -> None:
    # A frozen clock puts every call in the same instant, however busy the machine.
    async with running_emulator(qps=2, clock=lambda: 100.0) as cams:
        previews = [
            await signed_call(cams.url, "GetFlowPreviewUrl", {"FlowId": str(i)}) for i in range(3)
        ]
        lists = [await list_page(cams.url, DEMO_SPACE, 1, 5) for _ in range(3)]
        got = await get_flow(cams.url, "1234567890123456")
        other = await signed_call(
            cams.url, "ListFlow", {"CustSpaceId": DEMO_SPACE}, OTHER_CREDENTIALS
        )
        stats = cams.emulator.stats()

    assert [a.code for a in previews] == ["OK", "OK", "Throttling.User"]
    assert [a.code for a in lists] == ["OK", "OK", "Throttling.User"]
    assert (got.code, other.code) == ("OK", "OK")
    account = DEMO_CREDENTIALS.access_key_id
    assert stats["max_in_any_second"] == {
        account: 3,
        arrival_key(account, Action.LIST_FLOW): 3,
        f"{account}:GetFlow": 1,
        f"{OTHER_CREDENTIALS.access_key_id}:ListFlow": 1,
    }
    assert stats["by_action"] == {"GetFlowPreviewUrl": 3, "ListFlow": 4, "GetFlow": 1}
    assert stats["by_flow"] == {"0": 1, "1": 1, "2": 1}, "previews only"
    assert stats["received"] == 8
    assert [r.action for r in cams.emulator.recorded][:4] == ["GetFlowPreviewUrl"] * 3 + [
        "ListFlow"
    ]


@pytest.mark.parametrize(
    ("text", "action", "flow", "page"),
    [
        ("http:500@action:ListFlow+page:3*1", Action.LIST_FLOW, None, 3),
        ("drop@page:2", Action.LIST_FLOW, None, 2),
        ("error:Ram.PermissionDeny@action:GetFlow", Action.GET_FLOW, None, None),
        ("latency:1@action:ListFlow+rate:0.5", Action.LIST_FLOW, None, None),
        ("error:Flow.NotFound@flow:12+action:GetFlow", Action.GET_FLOW, "12", None),
        ("drop@flow:a+b", Action.GET_FLOW_PREVIEW_URL, "a+b", None),
        ("drop@all", Action.GET_FLOW_PREVIEW_URL, None, None),
    ],
)
def test_fault_targets_combine(
    text: str, action: Action, flow: str | None, page: int | None
) -> None:
    rule = FaultRule.parse(text)
    assert (rule.action, rule.flow, rule.page) == (action, flow, page)


@pytest.mark.parametrize(
    "text",
    [
        "drop@action:DeleteFlow",
        "drop@action:",
        "drop@action:GetFlow+page:2",
        "drop@page:0",
        "drop@page:x",
        "drop@flow:1+flow:2",
        "drop@all+page:1",
        "drop@page:1+",
        "insecure-url@action:ListFlow",
    ],
)
def test_bad_fault_targets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"target|fault"):
        FaultRule.parse(text)


def test_a_page_rule_matches_only_its_page() -> None:
    rule = FaultRule.parse("drop@page:3*1")
    rng = random.Random(0)  # noqa: S311 - decides nothing here: the rule has no rate
    assert not rule.take(Call(Action.LIST_FLOW, page=2), rng)
    assert not rule.take(Call(Action.LIST_FLOW, page=None), rng)
    assert not rule.take(Call(Action.GET_FLOW_PREVIEW_URL), rng)
    assert rule.take(Call(Action.LIST_FLOW, page=3), rng)
    assert not rule.take(Call(Action.LIST_FLOW, page=3), rng), "used up"
