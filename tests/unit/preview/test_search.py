"""Name search over a space's flows: normalising, ranking, the clear match, names in messages."""

# Flow names use the en dash people put in them; it is data, not a typo.
# ruff: noqa: RUF001

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.cams.models import FlowSummary
from bot.preview.normalise import words
from bot.preview.search import MAX_LIMIT, SearchIndex, SearchResult
from bot.standin.cams.catalog import make_flows

CATALOG = (
    "Sign-up v3",
    "Sign-up v2",
    "Sign-up v30",
    "Sign up – newsletter",
    "Signup form",
    "Appointment booking",
    "Appointment booking – Dental",
    "Dental booking appointment",
    "Apointment reminder",
    "Booking",
    "Café loyalty survey",
    "Customer support – Zürich (DE)",
    "Survey",
    "FAQ",
    "Order status",
    "Book club",
    "Boko",
)


def flows_named(names: Sequence[str], *, base: int = 10**15) -> list[FlowSummary]:
    """One flow per name, with 16-digit IDs in the order given."""
    return [FlowSummary(str(base + at), name) for at, name in enumerate(names)]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    return SearchIndex.build(flows_named(CATALOG))


def names(result: SearchResult) -> list[str]:
    return [match.flow.name for match in result.matches]


def clear_name(result: SearchResult) -> str | None:
    return None if result.clear is None else result.clear.name


# Normalising


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café-Loyalty v3", ("cafe", "loyalty", "v", "3")),
        ("CAFÉ loyalty, version 3", ("cafe", "loyalty", "v", "3")),
        ("loyalty V 03", ("loyalty", "v", "3")),
        ("Ver.2 straße", ("v", "2", "strasse")),
        ("İstanbul – Zürich", ("istanbul", "zurich")),
        ("ｆｕｌｌ ｗｉｄｔｈ ３", ("full", "width", "3")),
        ("ﬁnal_draft", ("final", "draft")),
        ("Mom's day", ("mom", "s", "day")),
        ("version history", ("version", "history")),
        ("…!?", ()),
    ],
)
def test_words_ignore_case_accents_and_punctuation(text: str, expected: tuple[str, ...]) -> None:
    assert words(text) == expected


# Ranking


def test_exact_word_beats_prefix_beats_typo(index: SearchIndex) -> None:
    found = names(index.search("book", limit=MAX_LIMIT))
    assert found[:2] == ["Book club", "Booking"]
    assert found[-1] == "Boko"


def test_accents_and_case_do_not_matter(index: SearchIndex) -> None:
    assert names(index.search("cafe")) == ["Café loyalty survey"]
    assert names(index.search("CAFÉ LOYALTY")) == ["Café loyalty survey"]
    assert names(index.search("zurich support")) == ["Customer support – Zürich (DE)"]


def test_sign_up_finds_every_spelling(index: SearchIndex) -> None:
    # Fewer words left over first: "Signup form" leaves one, as the newsletter does.
    assert names(index.search("sign up")) == [
        "Sign up – newsletter",
        "Signup form",
        "Sign-up v2",
        "Sign-up v3",
        "Sign-up v30",
    ]
    assert {"Sign-up v3", "Sign up – newsletter", "Signup form"} <= set(
        names(index.search("signup"))
    )


def test_typos_are_forgiven_in_long_enough_words(index: SearchIndex) -> None:
    assert names(index.search("apointment"))[0] == "Apointment reminder"
    assert "Appointment booking" in names(index.search("apointment"))
    # A swap of neighbours is one edit.
    assert names(index.search("appointment booknig"))[0] == "Appointment booking"
    # Two edits only in words of eight letters or more.
    assert names(index.search("bokkign")) == []
    assert "Appointment booking" in names(index.search("appontmnet"))
    # Short words must be spelled right.
    assert names(index.search("fqa")) == []


def test_the_last_word_may_be_unfinished(index: SearchIndex) -> None:
    assert names(index.search("appointment boo"))[:2] == [
        "Appointment booking",
        "Appointment booking – Dental",
    ]
    # Even with a typo in it, as when typing fast in the picker, if no word begins with it.
    assert "Appointment booking" in names(index.search("booking appoitn"))
    assert "Appointment booking" not in names(index.search("booking apoint"))
    # Other words may be prefixes of three letters or more, not shorter.
    assert "Appointment booking" in names(index.search("app booking"))
    assert names(index.search("ap booking")) == []


def test_every_near_prefix_counts() -> None:
    index = SearchIndex.build(flows_named([f"K{letter}lmor" for letter in "abcdefg"]))
    assert len(index.search("kxlm").matches) == 7


def test_word_order_breaks_ties(index: SearchIndex) -> None:
    assert names(index.search("appointment booking"))[:3] == [
        "Appointment booking",
        "Appointment booking – Dental",
        "Dental booking appointment",
    ]
    assert names(index.search("dental booking")) == [
        "Dental booking appointment",
        "Appointment booking – Dental",
    ]


def test_numbers_match_exactly_except_while_typing(index: SearchIndex) -> None:
    assert names(index.search("sign up v3")) == ["Sign-up v3", "Sign-up v30"]
    assert names(index.search("sign up version 3")) == ["Sign-up v3", "Sign-up v30"]
    assert names(index.search("v3 sign up")) == ["Sign-up v3"]
    # A number is never the word a long query may leave out.
    assert names(index.search("sign up v4")) == []


def test_one_word_may_be_missed_from_three_on(index: SearchIndex) -> None:
    result = index.search("appointment booking dentist")
    assert names(result)[:2] == ["Appointment booking", "Appointment booking – Dental"]
    assert result.clear is None
    assert names(index.search("booking dentist")) == []


def test_scores_fall_and_a_full_exact_match_scores_one(index: SearchIndex) -> None:
    result = index.search("appointment", limit=MAX_LIMIT)
    scores = [match.score for match in result.matches]
    assert scores == sorted(scores, reverse=True)
    assert scores[0] == 1.0


def test_repeated_and_surplus_words(index: SearchIndex) -> None:
    assert index.search("survey survey").matches == index.search("survey").matches
    long_query = "appointment booking dental " + "x " * 20
    assert names(index.search(long_query))[0] == "Appointment booking – Dental"
    repeats = SearchIndex.build(flows_named(["B2B onboarding", "B2C onboarding"]))
    assert clear_name(repeats.search("b2b onboarding")) == "B2B onboarding"


@pytest.mark.parametrize("query", ["", "   ", "–!?", "zzzzzz", "quantum chromodynamics"])
def test_no_match(index: SearchIndex, query: str) -> None:
    assert index.search(query) == SearchResult((), None)


# The clear match


@pytest.mark.parametrize(
    ("query", "clear"),
    [
        # The only match.
        ("newsletter", "Sign up – newsletter"),
        ("cafe", "Café loyalty survey"),
        # An exact name that no other flow shares, whatever else matches.
        ("booking", "Booking"),
        ("sign up v3", "Sign-up v3"),
        # Clearly ahead: an exact word against a typo.
        ("appointment reminder", "Apointment reminder"),
        # Not clear: equally good matches, or ahead by less than the margin.
        ("sign up", None),
        ("appointment", None),
        ("v3", None),
        # Not clear: the best match leaves a word out.
        ("cafe loyalty quiz", None),
    ],
)
def test_clear_match(index: SearchIndex, query: str, clear: str | None) -> None:
    assert clear_name(index.search(query)) == clear


def test_flows_sharing_a_name_are_never_clear() -> None:
    index = SearchIndex.build(flows_named(["Sign-up v3", "sign up V3", "Sign-up v2"]))
    result = index.search("sign-up v3")
    assert result.clear is None
    assert sorted(names(result)[:2]) == ["Sign-up v3", "sign up V3"]
    assert index.search("sign up v2").clear is not None


def test_the_clear_match_ignores_the_limit(index: SearchIndex) -> None:
    assert clear_name(index.search("booking", limit=0)) == "Booking"
    assert index.search("booking", limit=0).matches == ()


# Limits, order, lookups


def test_limits(index: SearchIndex) -> None:
    assert len(index.search("sign", limit=3).matches) == 3
    assert index.search("sign", limit=-1).matches == ()
    many = SearchIndex.build(flows_named([f"Survey {n}" for n in range(300)]))
    assert len(many.search("survey", limit=1000).matches) == MAX_LIMIT
    assert len(many.first(1000)) == MAX_LIMIT


def test_first_lists_by_normalised_name(index: SearchIndex) -> None:
    assert [flow.name for flow in index.first(4)] == [
        "Apointment reminder",
        "Appointment booking",
        "Appointment booking – Dental",
        "Boko",
    ]
    assert index.first(0) == ()
    accents = SearchIndex.build(flows_named(["Dental", "Café", "Cafeteria", "bakery"]))
    assert [flow.name for flow in accents.first(10)] == ["bakery", "Café", "Cafeteria", "Dental"]


def test_get_and_len_keep_the_first_of_a_repeated_id() -> None:
    first, second = FlowSummary("1", "First"), FlowSummary("1", "Second")
    index = SearchIndex.build([first, second, FlowSummary("2", "Other")])
    assert len(index) == 2
    assert index.get("1") == first
    assert index.get("3") is None
    assert names(index.search("second")) == []


def test_ties_break_by_name_then_id() -> None:
    flows = [
        FlowSummary("3", "Survey b"),
        FlowSummary("2", "Survey a"),
        FlowSummary("1", "Survey a"),
    ]
    result = SearchIndex.build(flows).search("survey")
    assert [m.flow.flow_id for m in result.matches] == ["1", "2", "3"]


def test_order_of_the_catalog_does_not_matter() -> None:
    flows = [seeded.summary for seeded in make_flows(500, seed=3)]
    shuffled = list(flows)
    random.Random(7).shuffle(shuffled)  # noqa: S311 - test data, guards nothing
    one, other = SearchIndex.build(flows), SearchIndex.build(shuffled)
    for query in ["sign up", "booking", "cafe lumiere v3", "apointment", "c", "zurich (de)"]:
        assert one.search(query) == other.search(query)
    assert one.first(50) == other.first(50)


# Names in a message


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Can you check Sign-up v3 before launch?", ["Sign-up v3"]),
        ("CAFE LOYALTY SURVEY looks off", ["Café loyalty survey"]),
        # The longest name at a place wins.
        ("the appointment booking dental flow", ["Appointment booking – Dental"]),
        ("Appointment booking, then Sign-up v30", ["Appointment booking", "Sign-up v30"]),
        # Whole words only, and the whole name.
        ("Appointment bookings are down", []),
        ("preappointment booking", []),
        ("Appointment and booking", []),
        # Weak names only when set apart: a common word, common words, a short name.
        ("please fill in the survey", []),
        ("please fill in the *Survey*", ["Survey"]),
        ("see `Survey` and 'FAQ'", ["Survey", "FAQ"]),
        ("the FAQ flow", []),
        ("what is the order status?", []),
        ("the “Order status” flow", ["Order status"]),
        ("in **the survey**", []),
    ],
)
def test_find_in_text(index: SearchIndex, text: str, found: list[str]) -> None:
    assert [flow.name for flow in index.find_in_text(text)] == found


@pytest.mark.parametrize(
    "text",
    [
        "<@U123|appointment-booking>",
        "<#C123|appointment-booking>",
        "<!subteam^S1|appointment booking>",
        "<!date^1392734382^Appointment booking {date}|Appointment booking>",
        "<https://example.com/appointment-booking|the docs>",
        "<https://example.com/appointment-booking>",
        "https://example.com/Appointment-booking",
        "www.example.com/appointment-booking",
        "example.com/appointment-booking?x=1",
        "Appointment <@U123> booking",
    ],
)
def test_find_in_text_skips_markup_and_links(index: SearchIndex, text: str) -> None:
    assert index.find_in_text(text) == ()


def test_find_in_text_reads_link_labels_and_entities(index: SearchIndex) -> None:
    text = "<https://example.com/x|Appointment booking> &amp; Sign-up v2 &lt;3"
    assert [flow.name for flow in index.find_in_text(text)] == [
        "Appointment booking",
        "Sign-up v2",
    ]


def test_find_in_text_treats_frequent_words_as_weak() -> None:
    catalog = ["Lumière", "Lumière checkout", "Lumière returns", "Lumière sign-in"]
    index = SearchIndex.build(flows_named(catalog))
    assert [f.name for f in index.find_in_text("Lumière is down")] == []
    assert [f.name for f in index.find_in_text("`Lumière` is down")] == ["Lumière"]
    assert [f.name for f in index.find_in_text("Lumière returns")] == ["Lumière returns"]


def test_find_in_text_limits_and_bounds(index: SearchIndex) -> None:
    text = "Sign-up v2, Sign-up v3, Sign-up v30 and Booking app"
    assert [f.name for f in index.find_in_text(text, limit=2)] == ["Sign-up v2", "Sign-up v3"]
    assert index.find_in_text(text, limit=0) == ()
    long_text = "lorem ipsum " * 10_000 + "Sign-up v3"
    assert index.find_in_text(long_text) == ()
    assert [f.name for f in index.find_in_text("Sign-up v3 " + long_text)] == ["Sign-up v3"]


def test_find_in_text_lists_every_flow_of_a_shared_name() -> None:
    index = SearchIndex.build(flows_named(["Sign-up v3", "sign up V3"]))
    assert len(index.find_in_text("Sign up v3 is live")) == 2


def test_flows_sharing_a_name_are_found_together_wherever_their_name_sorts() -> None:
    # The index holds each name once, with its first flow: the others follow it in order.
    shared = {"Survey": 2, "Sign up v3": 3, "Zoo": 1, "Booking form": 2}
    catalog = ["survey", "Survey", "Sign-up v3", "sign up V3", "SIGN UP v3", "Zoo"]
    index = SearchIndex.build(flows_named([*catalog, "Booking form", "booking-form"]))
    for name, count in shared.items():
        assert len(index.find_in_text(f'see "{name}" now')) == count, name
        result = index.search(name)
        assert len(result.matches) >= count
        assert (result.clear is None) == (count > 1), name


# Properties

WORDS = ["sign", "up", "signup", "booking", "book", "café", "cafe", "v3", "3", "dental", "form"]
name_strategy = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)


@settings(max_examples=80, deadline=None)
@given(st.lists(name_strategy, min_size=1, max_size=30), st.data())
def test_a_flows_own_name_ranks_it_first(catalog: list[str], data: st.DataObject) -> None:
    index = SearchIndex.build(flows_named(catalog))
    chosen = data.draw(st.sampled_from(catalog))
    same = {name for name in catalog if words(name) == words(chosen)}
    count = sum(1 for name in catalog if words(name) == words(chosen))
    result = index.search(chosen, limit=MAX_LIMIT)
    assert {match.flow.name for match in result.matches[:count]} == same
    assert (result.clear is not None) == (count == 1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(name_strategy, min_size=1, max_size=40),
    st.lists(st.sampled_from([*WORDS, "bo", "apointment", "dentl", "v"]), max_size=4),
    st.integers(min_value=1, max_value=12),
)
def test_a_small_limit_is_the_start_of_a_large_one(
    catalog: list[str], query: list[str], limit: int
) -> None:
    index = SearchIndex.build(flows_named(catalog))
    full = index.search(" ".join(query), limit=MAX_LIMIT)
    cut = index.search(" ".join(query), limit=limit)
    assert cut.matches == full.matches[:limit]
    assert cut.clear == full.clear


@pytest.mark.parametrize(
    "text",
    ["a." * 20_000, "*" * 40_000, "`" * 40_000, "'a " * 13_000, "x" * 39_000 + " `Sign-up v3`"],
    ids=["dots", "stars", "backticks", "quotes", "long-word"],
)
def test_find_in_text_reads_a_whole_hostile_message(text: str) -> None:
    # Each of these once cost seconds of backtracking (quadratic patterns); now linear.
    index = SearchIndex.build([FlowSummary("1234567890123456", "Sign-up v3")])
    found = index.find_in_text(text)
    assert [flow.flow_id for flow in found] == (["1234567890123456"] if "Sign" in text else [])
