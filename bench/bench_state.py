"""Bytes per entry of the state the bot keeps as it is used, and the memory at each bound.

Each kind is built through the project's own classes, in this process, from what production
hands them: CAMS answers read from JSON (read_answer), Slack IDs and flow IDs as fresh strings
per request, rows of the rule tables as fresh strings per row. Each kind is filled to its
bound's default (or to --entries), and tracemalloc measures what it holds once built. Strings
shared by every entry (the AccessKey ID, a configured space) are made before the measurement
and not counted; a typed `space:` is counted, as each command that names one brings its own.
"""

from __future__ import annotations

import asyncio
import gc
import json
import random
import string
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from slack_bolt.async_app import AsyncAck

from bench.common import finish, markdown_table, parser, positive_int, progress
from bot.access.ids import Kind
from bot.access.rules import Bounds
from bot.access.snapshot import Rule, RuleSnapshot
from bot.cams.client import CamsClient
from bot.cams.credentials import Credentials
from bot.cams.errors import CamsError
from bot.cams.models import FlowDetails, FlowPage, FlowPreview
from bot.cams.response import flow_details, flow_page, preview, read_answer
from bot.cams.settings import CamsSettings
from bot.config import Endpoint, Secret
from bot.preview.cache import PreviewCache
from bot.preview.catalog import FlowCatalog
from bot.preview.catalog_settings import CatalogSettings
from bot.preview.details import DEFAULT_MAXSIZE, FlowDetailsCache
from bot.preview.marks import MAX_LOCAL_MARKS, Marks
from bot.preview.service import PreviewService
from bot.preview.settings import PreviewSettings
from bot.slack.admission.auditing import Auditor
from bot.slack.answers.delivery import ANSWERS_KEPT, Delivery
from bot.slack.answers.unfurling import MARK_SCOPE, REPEAT_S
from bot.slack.edge.inflight import InFlight
from bot.slack.edge.pacing import MAX_WORKSPACES, Pacer
from bot.slack.edge.replies import ReplyPoster
from bot.slack.edge.reply_hosts import ReplyHosts
from bot.standin.cams.catalog import SeededFlow, make_flows
from bot.store import audit
from bot.store.audit import AuditOutcome, AuditRecord, AuditTrail
from bot.store.settings import MIN_AUDIT_QUEUE_MAX, StoreSettings
from bot.store.store import Store

T = TypeVar("T")

MIB = 1 << 20
# As long as an AccessKey ID, and plainly not one.
ACCOUNT = "bench-access-key-id-0001"
SPACES = ("cams-acme", "cams-globex", "cams-initech")
DEFAULT_SPACE = SPACES[0]
PREVIEW_HOST = "https://business.facebook.com/wa/manage/flows/"
TOKEN_CHARS = string.ascii_letters + string.digits + "-_"
TOKEN_LENGTH = 200
SLACK_ID_CHARS = string.ascii_uppercase + string.digits
# A workspace's askers: a few teams, a few hundred channels, a few thousand people.
TEAMS, CHANNELS, PEOPLE = 3, 300, 3_000
RULE_SPACES = 10
DAY_MS = 86_400_000
# Previews cached in the "at scale" line below the table.
AT_SCALE = 100_000


@dataclass(frozen=True, slots=True)
class Held:
    """What one kind of state holds: `entries` of them took `held` bytes."""

    kind: str
    entries: int
    held: int
    setting: str
    default: int
    note: str = ""

    @property
    def per_entry(self) -> float:
        """Bytes per entry."""
        return self.held / self.entries

    @property
    def at_default(self) -> float:
        """Bytes at the bound's default, at this many bytes per entry."""
        return self.per_entry * self.default


class Ids:
    """Realistic IDs, the same for the same seed; each call makes a fresh string."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - test data, guards nothing
        self.teams = [self.slack("T") for _ in range(TEAMS)]
        self.channels = [self.slack("C") for _ in range(CHANNELS)]
        self.people = [self.slack("U") for _ in range(PEOPLE)]

    def slack(self, prefix: str) -> str:
        """A Slack ID: its kind's letter and ten more."""
        return prefix + "".join(self._rng.choices(SLACK_ID_CHARS, k=10))

    def flow_id(self) -> str:
        """A 16-digit flow ID."""
        return str(self._rng.randrange(10**15, 10**16))

    def request_id(self) -> str:
        """An Alibaba RequestId (a UUID in capitals)."""
        hexes = "".join(self._rng.choices("0123456789ABCDEF", k=32))
        return "-".join((hexes[:8], hexes[8:12], hexes[12:16], hexes[16:20], hexes[20:]))

    def preview_url(self, flow_id: str) -> str:
        """A preview link of about 270 characters, most of them its token."""
        token = "".join(self._rng.choices(TOKEN_CHARS, k=TOKEN_LENGTH))
        return f"{PREVIEW_HOST}{flow_id}/preview/?token={token}"

    def asker(self) -> dict[str, str]:
        """Who asked, as a Slack payload names them."""
        return {
            "team_id": self._rng.choice(self.teams),
            "channel_id": self._rng.choice(self.channels),
            "user_id": self._rng.choice(self.people),
        }

    def pick(self, choices: tuple[str, ...]) -> str:
        """One of `choices`."""
        return self._rng.choice(choices)


def fresh(value: str) -> str:
    """A copy of `value` that is not `value`: what parsing a request or a row yields."""
    copy: str = json.loads(json.dumps(value))
    return copy


def typed(flow_id: str, space: str) -> tuple[str, str]:
    """A flow ID and a space as a command that names both yields them, each a string of its own."""
    text = f"{flow_id} space:{space}"
    head, _, tail = text.partition(" space:")
    return head, tail


def answer_body(data: object, request_id: str) -> bytes:
    """CAMS's answer carrying `data`."""
    return json.dumps({"RequestId": request_id, "Code": "OK", "Data": data}).encode()


def not_found_body(request_id: str) -> bytes:
    """CAMS's answer for a flow it does not know."""
    document = {
        "RequestId": request_id,
        "Code": "Flow.NotExist",
        "Message": "The specified flow does not exist.",
    }
    return json.dumps(document).encode()


def _fetch_preview(ids: Ids, flow_id: str, expires_ms: int) -> FlowPreview:
    data = {
        "FlowId": flow_id,
        "PreviewUrl": ids.preview_url(flow_id),
        "PreviewUrlExpires": expires_ms,
    }
    return preview(flow_id, read_answer(200, {}, answer_body(data, ids.request_id())))


def _fetch_missing(ids: Ids) -> CamsError:
    """A "not found" as the service keeps it: raised from reading the answer, then caught."""
    try:
        read_answer(404, {}, not_found_body(ids.request_id()))
    except CamsError as error:
        return error
    raise AssertionError("a not-found answer was read as a success")


def measure(build: Callable[[], T]) -> tuple[T, int]:
    """What `build()` returns, and the bytes it holds once built."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    gc.collect()
    return kept, tracemalloc.get_traced_memory()[0] - before


async def measure_async(build: Callable[[], Awaitable[T]]) -> tuple[T, int]:
    """What `await build()` returns, and the bytes it holds once built."""
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    kept = await build()
    gc.collect()
    return kept, tracemalloc.get_traced_memory()[0] - before


def expiry_ms() -> int:
    """An expiry 30 days from now, as CAMS gives it (epoch milliseconds)."""
    return int(time.time() * 1000) + 30 * DAY_MS


def previews(count: int, seed: int) -> Held:
    """PreviewCache filled with links, each asked for by a command that named its space."""
    ids = Ids(seed)
    expires_ms = expiry_ms()

    def build() -> PreviewCache:
        cache = PreviewCache(count)
        for _ in range(count):
            flow_id, space = typed(ids.flow_id(), ids.pick(SPACES))
            cache.put((ACCOUNT, space, flow_id), _fetch_preview(ids, flow_id, expires_ms))
        return cache

    cache, held = measure(build)
    assert len(cache) == count
    return Held("cached preview", count, held, "CAMS_CACHE_SIZE", _cache_default())


def previews_default_space(count: int, seed: int) -> Held:
    """PreviewCache filled with links of the configured space (its string shared by all)."""
    ids = Ids(seed)
    expires_ms = expiry_ms()

    def build() -> PreviewCache:
        cache = PreviewCache(count)
        for _ in range(count):
            flow_id = ids.flow_id()
            cache.put((ACCOUNT, DEFAULT_SPACE, flow_id), _fetch_preview(ids, flow_id, expires_ms))
        return cache

    _, held = measure(build)
    return Held("cached preview, default space", count, held, "CAMS_CACHE_SIZE", _cache_default())


def misses(count: int, seed: int) -> Held:
    """PreviewCache filled with "not found" answers (kept 30 s at most)."""
    ids = Ids(seed)

    def build() -> PreviewCache:
        cache = PreviewCache(count)
        for _ in range(count):
            flow_id, space = typed(ids.flow_id(), ids.pick(SPACES))
            cache.put((ACCOUNT, space, flow_id), _fetch_missing(ids))
        return cache

    cache, held = measure(build)
    assert len(cache) == count
    # Each one is CAMS's own answer to a call, kept CAMS_NEGATIVE_TTL_S (30 s) at most: the
    # account's budget (CAMS_QPS, 5/s) lets at most 150 exist at once, not the cache's bound.
    note = "at most CAMS_QPS x CAMS_NEGATIVE_TTL_S (150 by default) exist at once"
    return Held('cached "not found"', count, held, "CAMS_CACHE_SIZE", _cache_default(), note)


class _Describer:
    """GetFlow as CAMS answers it, read by the client's own reader."""

    account = ACCOUNT

    def __init__(self, ids: Ids, flows: list[SeededFlow]) -> None:
        self._ids = ids
        self._flows = {flow.flow_id: flow for flow in flows}

    def space_for(self, space: str | None) -> str | None:
        return space if space is not None else DEFAULT_SPACE

    async def get_flow(self, flow_id: str, space: str | None = None) -> FlowDetails:
        flow = self._flows[flow_id]
        data = {
            "FlowId": flow_id,
            "FlowName": flow.name,
            "Status": flow.status.value,
            "Categories": list(flow.summary.categories),
        }
        return flow_details(
            flow_id, read_answer(200, {}, answer_body(data, self._ids.request_id()))
        )


def details(count: int, seed: int) -> Held:
    """FlowDetailsCache filled through `get`, one GetFlow per flow of the default space."""
    ids = Ids(seed)
    flows = make_flows(count, seed=seed)
    describer = _Describer(ids, flows)
    flow_ids = [flow.flow_id for flow in flows]

    async def build() -> FlowDetailsCache:
        cache = FlowDetailsCache(describer, maxsize=count)
        for flow_id in flow_ids:
            await cache.get(fresh(flow_id))
        return cache

    _, held = asyncio.run(measure_async(build))
    return Held("GetFlow details", count, held, "details.DEFAULT_MAXSIZE", DEFAULT_MAXSIZE)


class _Lister:
    """ListFlow as CAMS answers it, page by page, read by the client's own reader."""

    account = ACCOUNT

    def __init__(self, ids: Ids, flows: list[SeededFlow]) -> None:
        self._ids = ids
        self._flows = flows

    def space_for(self, space: str | None) -> str | None:
        return space if space is not None else DEFAULT_SPACE

    async def list_flows(
        self, space: str | None = None, *, page: int = 1, size: int = 100
    ) -> FlowPage:
        listed = self._flows[(page - 1) * size : page * size]
        data = [
            {"FlowId": f.flow_id, "FlowName": f.name, "Categories": list(f.summary.categories)}
            for f in listed
        ]
        return flow_page(read_answer(200, {}, answer_body(data, self._ids.request_id())), size)


def catalog(count: int, seed: int) -> Held:
    """One space's catalog, listed and indexed by FlowCatalog (emulator-style names)."""
    ids = Ids(seed)
    lister = _Lister(ids, make_flows(count, seed=seed))

    async def build() -> FlowCatalog:
        flows = FlowCatalog(lister, max_flows=count)
        snapshot = await flows.refreshed(DEFAULT_SPACE)
        assert snapshot is not None
        assert len(snapshot.flows) == count
        return flows

    _, held = asyncio.run(measure_async(build))
    spaces = CatalogSettings.from_env({}).max_spaces
    note = (
        f"per space; at most CATALOG_MAX_SPACES (default {spaces}) spaces are held, so at most"
        f" {spaces}x this"
    )
    return Held("catalog flow (indexed)", count, held, "CATALOG_MAX_FLOWS", _flows_default(), note)


def audit_records(count: int, seed: int) -> Held:
    """The audit trail's queue filled (as while the database is down), one preview per request.

    The Store is never started: nothing connects, and every record waits in the queue.
    """
    ids = Ids(seed)
    # The request ID is the cached preview's own string: a record adds none of its own.
    request_id = ids.request_id()
    env = {
        "DATABASE_PATH": str(Path(tempfile.mkdtemp()) / "never-opened.sqlite3"),
        "AUDIT_QUEUE_MAX": str(max(count, MIN_AUDIT_QUEUE_MAX)),
    }
    trail = Store(StoreSettings.from_env(env)).audit

    def build() -> AuditTrail:
        for _ in range(count):
            asker = json.loads(json.dumps(ids.asker()))
            trail.record(
                AuditRecord(
                    at=datetime.now(UTC),
                    team_id=asker["team_id"],
                    channel_id=asker["channel_id"],
                    user_id=asker["user_id"],
                    flow_id=ids.flow_id(),
                    space_id=DEFAULT_SPACE,
                    outcome=AuditOutcome.GIVEN,
                    request_id=request_id,
                )
            )
        return trail

    _, held = measure(build)
    assert trail.backlog == count
    return Held("queued audit record", count, held, "AUDIT_QUEUE_MAX", audit.MAX_QUEUE)


def _rows(count: int, make: Callable[[int], tuple[str, ...]]) -> list[tuple[str, ...]]:
    return [make(at) for at in range(count)]


def rules(count: int, seed: int) -> Held:
    """RuleSnapshot of allow rules over a few spaces, read from rows."""
    ids = Ids(seed)
    kinds = (Kind.CHANNEL, Kind.USER, Kind.USER, Kind.USERGROUP)
    prefixes = {Kind.CHANNEL: "C", Kind.USER: "U", Kind.USERGROUP: "S"}

    def row(at: int) -> tuple[str, ...]:
        kind = kinds[at % len(kinds)]
        return (f"cams-space-{at % RULE_SPACES}", kind.value, ids.slack(prefixes[kind]))

    def build() -> RuleSnapshot:
        read = _rows(count, row)
        return RuleSnapshot(Rule(space, Kind(kind), subject) for space, kind, subject in read)

    _, held = measure(build)
    return Held("access rule", count, held, "Bounds.rules", Bounds().rules)


def channel_spaces(count: int, seed: int) -> Held:
    """RuleSnapshot of channels with a space of their own, read from rows."""
    ids = Ids(seed)

    def row(at: int) -> tuple[str, ...]:
        return (fresh(ids.teams[at % TEAMS]), ids.slack("C"), f"cams-space-{at % RULE_SPACES}")

    def build() -> RuleSnapshot:
        read = _rows(count, row)
        return RuleSnapshot((), {(team, channel): space for team, channel, space in read})

    _, held = measure(build)
    return Held("channel space", count, held, "Bounds.channel_spaces", Bounds().channel_spaces)


def bindings(count: int, seed: int) -> Held:
    """RuleSnapshot of workspace bindings (ten spaces per workspace), read from rows."""
    ids = Ids(seed)
    teams = [ids.slack("T") for _ in range(-(-count // RULE_SPACES))]

    def row(at: int) -> tuple[str, ...]:
        return (fresh(teams[at // RULE_SPACES]), f"cams-space-{at % RULE_SPACES}")

    def build() -> RuleSnapshot:
        read = _rows(count, row)
        return RuleSnapshot((), None, ((team, space) for team, space in read))

    _, held = measure(build)
    return Held("workspace binding", count, held, "Bounds.bindings", Bounds().bindings)


def answers(count: int, seed: int) -> Held:
    """Delivery's rendered answers to cache hits, one flow each (the previews not counted)."""
    ids = Ids(seed)
    expires_ms = expiry_ms()
    credentials = Credentials(ACCOUNT, Secret("bench-secret"))
    client = CamsClient(credentials, CamsSettings(Endpoint.parse("https://cams.invalid")))
    service = PreviewService(client, PreviewCache(count))
    flow_ids = []
    for _ in range(count):
        flow_id = ids.flow_id()
        # No space configured: no GetFlow is wanted, so the previews alone make the answer.
        service.cache.put((ACCOUNT, "", flow_id), _fetch_preview(ids, flow_id, expires_ms))
        flow_ids.append(flow_id)
    auditor = Auditor(None, client.space_for)
    delivery = Delivery(service, InFlight(), ReplyPoster(ReplyHosts(())), auditor)

    async def build() -> Delivery:
        ack = AsyncAck()  # type: ignore[no-untyped-call]
        for flow_id in flow_ids:
            await delivery.answer_in_ack(ack, "", [fresh(flow_id)], None)
        return delivery

    _, held = asyncio.run(measure_async(build))
    return Held("rendered answer", count, held, "ANSWERS_KEPT", ANSWERS_KEPT)


def pacing(count: int, seed: int) -> Held:
    """Pacer's bucket per workspace that made a Web API call."""
    ids = Ids(seed)
    teams = [ids.slack("T") for _ in range(count)]

    async def build() -> Pacer:
        pacer = Pacer()

        async def call() -> None:
            return None

        for team in teams:
            await pacer.call(fresh(team), call)
        return pacer

    _, held = asyncio.run(measure_async(build))
    return Held("paced workspace", count, held, "MAX_WORKSPACES", MAX_WORKSPACES)


def marks(count: int, seed: int) -> Held:
    """Marks in memory: a link unfurled per (team, channel, flow) lately."""
    ids = Ids(seed)

    async def build() -> Marks:
        held = Marks()
        for _ in range(count):
            asker = json.loads(json.dumps(ids.asker()))
            key = (asker["team_id"], asker["channel_id"], ids.flow_id())
            await held.claim(MARK_SCOPE, key, REPEAT_S)
        return held

    _, held = asyncio.run(measure_async(build))
    return Held("unfurl mark", count, held, "MAX_LOCAL_MARKS", MAX_LOCAL_MARKS)


def _cache_default() -> int:
    return PreviewSettings.from_env({}).cache_size


def _flows_default() -> int:
    return CatalogSettings.from_env({}).max_flows


def _bounds() -> Iterator[tuple[Callable[[int, int], Held], int]]:
    yield previews, _cache_default()
    yield previews_default_space, _cache_default()
    yield misses, _cache_default()
    yield details, DEFAULT_MAXSIZE
    yield catalog, _flows_default()
    yield audit_records, audit.MAX_QUEUE
    yield rules, Bounds().rules
    yield channel_spaces, Bounds().channel_spaces
    yield bindings, Bounds().bindings
    yield answers, ANSWERS_KEPT
    yield pacing, MAX_WORKSPACES
    yield marks, MAX_LOCAL_MARKS


EVICTING = frozenset({answers, pacing, marks})


def run(entries: int | None, seed: int) -> tuple[list[Held], Held]:
    """Every kind at its bound's default (or `entries`), then previews at AT_SCALE."""
    tracemalloc.start()
    try:
        found = []
        for kind, default in _bounds():
            # What evicts at its own bound cannot hold more than that.
            count = default if entries is None or kind in EVICTING else entries
            progress(f"{kind.__name__}: {count:,} entries")
            found.append(kind(count, seed))
        progress(f"previews: {AT_SCALE:,} entries")
        scale = previews(AT_SCALE, seed)
    finally:
        tracemalloc.stop()
    return found, scale


def render(found: list[Held], scale: Held) -> str:
    """The table, and the previews at scale."""
    rows = [
        [
            held.kind,
            f"{held.per_entry:,.0f}",
            held.setting,
            f"{held.default:,}",
            f"{held.at_default / MIB:,.2f} MiB",
            f"{held.entries:,}",
        ]
        for held in found
    ]
    table = markdown_table(
        "kind | bytes per entry | bounded by | default | memory at the default | measured at",
        rows,
        "lrlrrr",
    )
    notes = [f"- {held.kind}: {held.note}" for held in found if held.note]
    at_scale = (
        f"{AT_SCALE:,} cached previews (CAMS_CACHE_SIZE={AT_SCALE}): "
        f"{scale.held / MIB:,.1f} MiB, {scale.per_entry:,.0f} bytes each."
    )
    return "\n".join([table, "", *notes, "", at_scale])


def main() -> int:
    """Measure every kind and print the table."""
    cli = parser(__doc__, "bench.bench_state")
    cli.add_argument(
        "--entries", type=positive_int, help="entries of every kind (default: each bound's default)"
    )
    cli.add_argument("--seed", type=int, default=0, help="for the IDs, links and names")
    args = cli.parse_args()
    found, scale = run(args.entries, args.seed)
    raw = {"kinds": found, "at_scale": scale}
    return finish(args, __doc__, render(found, scale), raw, True, "cachetools")


if __name__ == "__main__":
    sys.exit(main())
