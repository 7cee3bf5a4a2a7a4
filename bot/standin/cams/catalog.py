"""Seeded WhatsApp Flow catalogs for the CAMS emulator: realistic names, categories and statuses.

Names are built from parts the way real catalogs grow: a purpose ("Appointment booking"), often
a brand, branch, market or topic ("Café Lumière", "São Paulo", "Dental"), sometimes a version,
a language and a leftover suffix ("(copy)", "– test"). Large catalogs are therefore full of
near-duplicates, which is what name search has to cope with.
"""

# Flow names use the en dash that consoles and people put in them; it is data, not a typo.
# ruff: noqa: RUF001, RUF002

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from bot.cams.models import FlowStatus, FlowSummary

DEMO_SPACE = "cams-demo"
ACME_SPACE = "cams-acme"
ACME_SIZE = 20
# Flow IDs are 16 digits: every ID lies in [ID_MIN, ID_END).
ID_MIN = 10**15
ID_END = 10**16
# Each generated catalog draws its IDs from a block this wide above its `id_base`.
ID_BLOCK = 10**14
# make_flows refuses more than this, so a typo in --catalog-size cannot eat the machine.
MAX_FLOWS = 200_000

_P = FlowStatus.PUBLISHED
_D = FlowStatus.DRAFT
_X = FlowStatus.DEPRECATED


@dataclass(frozen=True, slots=True)
class SeededFlow:
    """A flow the emulator knows: what ListFlow lists, and the status only GetFlow tells."""

    summary: FlowSummary
    status: FlowStatus

    @property
    def flow_id(self) -> str:
        """The flow's 16-digit ID."""
        return self.summary.flow_id

    @property
    def name(self) -> str:
        """The flow's name as ListFlow spells it."""
        return self.summary.name


def _flow(flow_id: str, name: str, status: FlowStatus, *categories: str) -> SeededFlow:
    return SeededFlow(FlowSummary(flow_id, name, categories), status)


# The demo space's flows a person would look for by name. The first and the fourth carry the
# IDs the demo's intro suggests, so their previews show a name and a status.
FEATURED: tuple[SeededFlow, ...] = (
    _flow("1234567890123456", "Sign-up v3", _P, "SIGN_UP"),
    _flow("1234567890123401", "Sign-up v2", _X, "SIGN_UP"),
    _flow("1234567890123402", "Sign up – newsletter", _D, "SIGN_UP", "LEAD_GENERATION"),
    _flow("9876543210987654", "Appointment booking", _P, "APPOINTMENT_BOOKING"),
    _flow(
        "9876543210987601",
        "Appointment booking – Dental",
        _P,
        "APPOINTMENT_BOOKING",
        "CUSTOMER_SUPPORT",
    ),
    _flow("2718281828459045", "Café loyalty survey", _P, "SURVEY", "OTHER"),
    _flow("3141592653589793", "Order tracking", _P, "SHOPPING", "CUSTOMER_SUPPORT"),
    _flow("1618033988749894", "Lead capture – São Paulo (PT-BR)", _P, "LEAD_GENERATION"),
    _flow("1414213562373095", "Customer support – Zürich (DE)", _P, "CUSTOMER_SUPPORT"),
    _flow("1732050807568877", "NPS survey Q3 – test", _D, "SURVEY"),
)
DEMO_SIZE = 40

# Purposes and the Meta categories that fit them.
_PURPOSES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Sign-up", ("SIGN_UP",)),
    ("Sign up", ("SIGN_UP",)),
    ("Registration", ("SIGN_UP",)),
    ("Sign-in", ("SIGN_IN",)),
    ("Login", ("SIGN_IN",)),
    ("Password reset", ("SIGN_IN", "CUSTOMER_SUPPORT")),
    ("Appointment booking", ("APPOINTMENT_BOOKING",)),
    ("Table reservation", ("APPOINTMENT_BOOKING",)),
    ("Test drive booking", ("APPOINTMENT_BOOKING", "LEAD_GENERATION")),
    ("Lead capture", ("LEAD_GENERATION",)),
    ("Quote request", ("LEAD_GENERATION", "CONTACT_US")),
    ("Order tracking", ("SHOPPING", "CUSTOMER_SUPPORT")),
    ("Product catalogue", ("SHOPPING",)),
    ("Checkout", ("SHOPPING",)),
    ("Returns", ("CUSTOMER_SUPPORT", "SHOPPING")),
    ("Customer support", ("CUSTOMER_SUPPORT",)),
    ("Warranty claim", ("CUSTOMER_SUPPORT",)),
    ("Contact us", ("CONTACT_US",)),
    ("Callback request", ("CONTACT_US", "LEAD_GENERATION")),
    ("NPS survey", ("SURVEY",)),
    ("Feedback form", ("SURVEY",)),
    ("Loyalty enrolment", ("SIGN_UP", "OTHER")),
    ("Event registration", ("SIGN_UP", "APPOINTMENT_BOOKING")),
    ("Newsletter opt-in", ("SIGN_UP", "LEAD_GENERATION")),
    ("Delivery slot", ("SHOPPING", "APPOINTMENT_BOOKING")),
    ("Gift card balance", ("OTHER",)),
)
# Brands, branches and markets (accents on purpose), then topics.
_QUALIFIERS = (
    "Café Lumière",
    "Müller Bikes",
    "Hôtel Étoile",
    "Clínica Sonrisa",
    "Ñandú Coffee",
    "Crème & Co",
    "Björk Fitness",
    "Açaí Bowl Co",
    "Acme",
    "Northwind",
    "São Paulo",
    "Zürich",
    "Kraków",
    "Málaga",
    "Montréal",
    "Köln",
    "Bogotá",
    "Reykjavík",
    "İstanbul",
    "Jakarta",
    "Ciudad de México",
    "Düsseldorf",
    "Dental",
    "Hair salon",
    "Pharmacy",
    "Black Friday",
    "Summer sale",
    "Premium",
    "B2B",
    "Car service",
    "Vet clinic",
    "Mortgage",
)
_VERSIONS = ("v2", "v3", "v4", "v5", "2024", "2025", "Q3")
_LANGUAGES = ("ES", "PT-BR", "EN", "FR", "DE", "AR", "ID", "TR")
# Leftovers of how flows get made; some say what state the flow is in.
_SUFFIXES: tuple[tuple[str, FlowStatus | None], ...] = (
    ("(copy)", None),
    ("(copy)", _D),
    ("– test", _D),
    ("(draft)", _D),
    ("– old", _X),
    ("– do not use", _X),
    ("– A/B variant", None),
    ("final", None),
)
_EXTRA_CATEGORIES = ("OTHER", "CUSTOMER_SUPPORT", "LEAD_GENERATION")


def make_flows(
    count: int, *, seed: int = 0, id_base: int = ID_MIN, reserved: Iterable[str] = ()
) -> list[SeededFlow]:
    """`count` flows, the same ones for the same arguments, with unique names and unique IDs.

    IDs are drawn from [id_base, id_base + ID_BLOCK), so catalogs with different bases never
    share an ID. No name repeats one in `reserved` (compared ignoring case). Most flows are
    PUBLISHED; some are DRAFT or DEPRECATED.
    """
    if not 0 <= count <= MAX_FLOWS:
        raise ValueError(f"count must be between 0 and {MAX_FLOWS}, not {count}")
    if not ID_MIN <= id_base <= ID_END - ID_BLOCK:
        raise ValueError(f"id_base must keep IDs at 16 digits, not {id_base}")
    rng = random.Random(seed)  # noqa: S311 - test data, guards nothing
    ids = rng.sample(range(id_base, id_base + ID_BLOCK), count)
    seen = dict.fromkeys((name.casefold() for name in reserved), 1)
    flows = []
    for flow_id in ids:
        name, categories, status = _invent(rng)
        # A name already taken gets a number, as a duplicated flow does in a console.
        copies = seen.get(name.casefold(), 0)
        seen[name.casefold()] = copies + 1
        if copies:
            name = f"{name} ({copies + 1})"
            seen[name.casefold()] = 1
        flows.append(SeededFlow(FlowSummary(str(flow_id), name, categories), status))
    return flows


def default_catalog() -> dict[str, list[SeededFlow]]:
    """The emulator's catalog: about 40 flows in `cams-demo` and 20 in `cams-acme`."""
    return catalog_of_size(DEMO_SIZE)


def catalog_of_size(size: int) -> dict[str, list[SeededFlow]]:
    """`cams-demo` with `size` flows (the featured ones first), and `cams-acme` as by default.

    The demo space is the one benchmarks list and search, so it holds exactly `size` flows.
    """
    featured = list(FEATURED[:size])
    reserved = [flow.name for flow in featured]
    demo = featured + make_flows(
        size - len(featured), seed=1, id_base=2 * ID_MIN, reserved=reserved
    )
    acme = make_flows(ACME_SIZE, seed=2, id_base=3 * ID_MIN)
    return {DEMO_SPACE: demo, ACME_SPACE: acme}


def _invent(rng: random.Random) -> tuple[str, tuple[str, ...], FlowStatus]:
    """One flow's name, categories and status, before duplicates are told apart."""
    purpose, categories = rng.choice(_PURPOSES)
    name = purpose
    if rng.random() < 0.7:
        qualifier = rng.choice(_QUALIFIERS)
        name = (
            f"{qualifier} {_lower_first(purpose)}"
            if rng.random() < 0.35
            else f"{purpose} – {qualifier}"
        )
    if rng.random() < 0.35:
        name = f"{name} {rng.choice(_VERSIONS)}"
    if rng.random() < 0.25:
        name = f"{name} ({rng.choice(_LANGUAGES)})"
    status = rng.choices((_P, _D, _X), weights=(80, 12, 8))[0]
    if rng.random() < 0.12:
        suffix, suffix_status = rng.choice(_SUFFIXES)
        name = f"{name} {suffix}"
        status = suffix_status or status
    if len(categories) < 3 and rng.random() < 0.15:
        extra = rng.choice(_EXTRA_CATEGORIES)
        if extra not in categories:
            categories = (*categories, extra)
    return name, categories, status


def _lower_first(purpose: str) -> str:
    """`Order tracking` -> `order tracking`, but `NPS survey` stays as it is."""
    first = purpose.split(maxsplit=1)[0]
    return purpose if first.isupper() else purpose[0].lower() + purpose[1:]
