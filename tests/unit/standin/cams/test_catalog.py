"""The emulator's seeded flow catalogs: deterministic, realistic, and big when asked."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.cams.models import FlowStatus
from bot.standin.cams.catalog import (
    ACME_SPACE,
    DEMO_SPACE,
    FEATURED,
    ID_MIN,
    MAX_FLOWS,
    SeededFlow,
    catalog_of_size,
    default_catalog,
    make_flows,
)

DASH = "\u2013"
META_CATEGORIES = {
    "SIGN_UP",
    "SIGN_IN",
    "APPOINTMENT_BOOKING",
    "LEAD_GENERATION",
    "SHOPPING",
    "CONTACT_US",
    "CUSTOMER_SUPPORT",
    "SURVEY",
    "OTHER",
}


def _names(flows: list[SeededFlow]) -> list[str]:
    return [flow.name for flow in flows]


def test_the_same_seed_gives_the_same_flows_and_another_seed_others() -> None:
    assert make_flows(300, seed=3) == make_flows(300, seed=3)
    assert _names(make_flows(300, seed=3)) != _names(make_flows(300, seed=4))
    assert default_catalog() == default_catalog()


def test_ten_thousand_flows_have_unique_16_digit_ids_and_unique_names() -> None:
    flows = make_flows(10_000)

    ids = [flow.flow_id for flow in flows]
    assert len(set(ids)) == 10_000
    assert all(len(flow_id) == 16 and flow_id.isdigit() for flow_id in ids)
    assert len({name.casefold() for name in _names(flows)}) == 10_000


def test_big_catalogs_are_full_of_near_duplicates_with_accents() -> None:
    names = _names(make_flows(10_000))
    folded = [name.casefold() for name in names]

    assert sum("sign-up" in name or "sign up" in name for name in folded) > 300
    assert sum(name.startswith("appointment booking") for name in folded) > 100
    assert any("café lumière" in name for name in folded)
    assert any("são paulo" in name for name in folded)
    assert any("zürich" in name for name in folded)
    assert any(name.endswith("(copy)") for name in folded)
    assert any("(pt-br)" in name for name in folded)
    assert any(" v3" in name for name in folded)


def test_categories_are_metas_and_fit_the_purpose() -> None:
    flows = make_flows(2_000)

    assert all(1 <= len(flow.summary.categories) <= 3 for flow in flows)
    assert all(set(flow.summary.categories) <= META_CATEGORIES for flow in flows)
    assert all(len(set(c := flow.summary.categories)) == len(c) for flow in flows)
    survey = [f for f in flows if f.name.casefold().startswith("nps survey")]
    assert survey
    assert all("SURVEY" in flow.summary.categories for flow in survey)


def test_most_flows_are_published_and_leftover_suffixes_say_what_state_a_flow_is_in() -> None:
    flows = make_flows(2_000)
    statuses = Counter(flow.status for flow in flows)

    assert statuses[FlowStatus.PUBLISHED] > 1_200
    assert statuses[FlowStatus.DRAFT] > 50
    assert statuses[FlowStatus.DEPRECATED] > 50
    for suffix, status in [
        (f"{DASH} test", FlowStatus.DRAFT),
        ("(draft)", FlowStatus.DRAFT),
        (f"{DASH} old", FlowStatus.DEPRECATED),
        (f"{DASH} do not use", FlowStatus.DEPRECATED),
    ]:
        marked = [flow for flow in flows if flow.name.endswith(suffix)]
        assert marked, suffix
        assert all(flow.status is status for flow in marked), suffix


def test_the_default_catalog_has_a_demo_and_an_acme_space_with_names_people_search_for() -> None:
    catalog = default_catalog()
    demo = {flow.name: flow for flow in catalog[DEMO_SPACE]}

    assert (len(catalog[DEMO_SPACE]), len(catalog[ACME_SPACE])) == (40, 20)
    assert demo["Sign-up v3"].status is FlowStatus.PUBLISHED
    assert demo["Sign-up v2"].status is FlowStatus.DEPRECATED
    assert demo[f"Sign up {DASH} newsletter"].status is FlowStatus.DRAFT
    assert demo["Appointment booking"].status is FlowStatus.PUBLISHED
    assert demo["Café loyalty survey"].summary.categories == ("SURVEY", "OTHER")
    # The IDs the demo's intro suggests have names.
    assert demo["Sign-up v3"].flow_id == "1234567890123456"
    assert demo["Appointment booking"].flow_id == "9876543210987654"
    everything = [flow for flows in catalog.values() for flow in flows]
    assert len({flow.flow_id for flow in everything}) == 60
    assert all(len(set(_names(flows))) == len(flows) for flows in catalog.values())


@pytest.mark.parametrize("size", [0, 3, 40, 10_000])
def test_catalog_of_size_puts_that_many_flows_in_the_demo_space(size: int) -> None:
    catalog = catalog_of_size(size)

    demo = catalog[DEMO_SPACE]
    assert len(demo) == size
    assert demo[: min(size, len(FEATURED))] == list(FEATURED[:size])
    assert len(catalog[ACME_SPACE]) == 20
    ids = [flow.flow_id for flows in catalog.values() for flow in flows]
    assert len(set(ids)) == len(ids)
    assert len({name.casefold() for name in _names(demo)}) == size


def test_make_flows_refuses_what_it_cannot_make() -> None:
    with pytest.raises(ValueError, match="count"):
        make_flows(-1)
    with pytest.raises(ValueError, match="count"):
        make_flows(MAX_FLOWS + 1)
    with pytest.raises(ValueError, match="16 digits"):
        make_flows(1, id_base=ID_MIN - 1)
    with pytest.raises(ValueError, match="16 digits"):
        make_flows(1, id_base=10**16)
