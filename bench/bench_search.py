"""Name search (SearchIndex) over 10,000 flows beside a plain substring scan.

On the emulator's catalog and a "wide" one with ten times the vocabulary: a mix of queries
(QUERY_KINDS), the index's build time and memory, and the typo lookup beside a hand-written
one. Targets: p99 <= 5 ms, build (median) < 200 ms.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import tracemalloc
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bench.common import (
    Target,
    finish,
    markdown_table,
    parser,
    percentile,
    positive_int,
    progress,
    quantiles,
    target,
    targets_table,
)
from bot.cams.models import FlowSummary
from bot.preview.normalise import words
from bot.preview.search import SearchIndex
from bot.standin.cams.catalog import make_flows

LIMIT = 10
P99_TARGET_MS = 5.0
BUILD_TARGET_MS = 200.0
BUILD_REPEATS = 5
WIDE_VOCABULARY = 8_000
TYPO_WORDS = 400
# Invented words are two to four of these; rarely a real word, never one of the emulator's.
_SYLLABLE_TEXT = """
    ka ri to mo ne sa lu vi de pa zo ber lin gar tus mel fen dor ast qui pra ven sol mar tek
    bri nol cha sti run vex hal ori ume ix
"""
SYLLABLES = tuple(_SYLLABLE_TEXT.split())
MISS_LETTERS = "bcdfghjklmnpqrstvwxz"
QUERY_KINDS = {"full name": 15, "words shuffled": 10, "unfinished": 25, "short prefix": 10}
QUERY_KINDS |= {"typo": 20, "no accents, upper case": 10, "miss": 10}


@dataclass(frozen=True, slots=True)
class Query:
    """A query and what answers it well: its source flow among the answers, or none at all."""

    kind: str
    text: str
    target: str | None


@dataclass(slots=True)
class Side:
    """One searcher's times (ms) and good answers, per query kind."""

    times_ms: dict[str, list[float]] = field(default_factory=dict)
    good: dict[str, int] = field(default_factory=dict)

    def record(self, kind: str, elapsed_ms: float, good: bool) -> None:
        """Count one query."""
        self.times_ms.setdefault(kind, []).append(elapsed_ms)
        self.good[kind] = self.good.get(kind, 0) + good

    def all_times(self) -> list[float]:
        """Every query's time, whatever its kind."""
        return [t for times in self.times_ms.values() for t in times]


@dataclass(frozen=True, slots=True)
class Build:
    """Building the index: times (ms), memory (bytes) held after and at the peak, the peer's."""

    times_ms: list[float]
    held_bytes: int
    peak_bytes: int
    peer_bytes: int
    vocabulary: int


@dataclass(frozen=True, slots=True)
class CatalogResult:
    """One catalog's figures; the typo lookup in ms per word by each method."""

    name: str
    flows: int
    build: Build
    ours: Side
    peer: Side
    typo_vocabulary: int
    typo_ms: dict[str, float]

    @property
    def targets(self) -> list[Target]:
        """flowpreview's targets on this catalog."""
        p99 = percentile(self.ours.all_times(), 99)
        build = statistics.median(self.build.times_ms)
        return [
            target(f"{self.name}: search p99", p99, "<=", P99_TARGET_MS, " ms"),
            target(f"{self.name}: build (median)", build, "<", BUILD_TARGET_MS, " ms"),
        ]


def wide_catalog(count: int, rng: random.Random) -> list[FlowSummary]:
    """`count` flows named from WIDE_VOCABULARY invented words, common ones more often."""
    vocabulary = sorted(
        {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(WIDE_VOCABULARY * 2)}
    )[:WIDE_VOCABULARY]
    rng.shuffle(vocabulary)
    weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
    flows = []
    for at in range(count):
        name = " ".join(rng.choices(vocabulary, weights, k=rng.randint(2, 5))).capitalize()
        if rng.random() < 0.3:
            name += f" v{rng.randint(1, 12)}"
        flows.append(FlowSummary(str(4 * 10**15 + at), name))
    return flows


def miss(rng: random.Random) -> str:
    """One or two words of consonants: matches nothing."""
    return " ".join(
        "".join(rng.choices(MISS_LETTERS, k=rng.randint(4, 8))) for _ in range(rng.randint(1, 2))
    )


def make_queries(flows: Sequence[FlowSummary], count: int, rng: random.Random) -> list[Query]:
    """`count` queries of QUERY_KINDS, drawn by their weights, each from a random flow."""
    makers: dict[str, Callable[[FlowSummary], str]] = {
        "full name": lambda flow: flow.name,
        "words shuffled": lambda flow: shuffled(flow.name, rng),
        "unfinished": lambda flow: unfinished(flow.name, rng),
        "short prefix": lambda flow: words(flow.name)[0][: rng.randint(1, 3)],
        "typo": lambda flow: with_typo(flow.name, rng),
        "no accents, upper case": lambda flow: strip_accents(flow.name).upper(),
        "miss": lambda _: miss(rng),
    }
    queries = []
    for kind in rng.choices(list(QUERY_KINDS), list(QUERY_KINDS.values()), k=count):
        flow = rng.choice(flows)
        queries.append(Query(kind, makers[kind](flow), None if kind == "miss" else flow.flow_id))
    return queries


def shuffled(name: str, rng: random.Random) -> str:
    """The words of `name` in another order."""
    found = list(words(name))
    rng.shuffle(found)
    return " ".join(found)


def unfinished(name: str, rng: random.Random) -> str:
    """The first words of `name`, the last of them cut short: typing in the picker."""
    found = words(name)
    keep = rng.randint(1, len(found))
    last = found[keep - 1]
    return " ".join([*found[: keep - 1], last[: rng.randint(1, len(last))]])


def with_typo(name: str, rng: random.Random) -> str:
    """`name` with one edit in one of its words of four letters or more, if it has one."""
    found = list(words(name))
    long_words = [at for at, word in enumerate(found) if len(word) >= 4 and word.isalpha()]
    if not long_words:
        return name
    at = rng.choice(long_words)
    word = found[at]
    cut = rng.randrange(1, len(word) - 1)
    edit = rng.choice(("swap", "drop", "double", "replace"))
    if edit == "swap":
        word = word[:cut] + word[cut + 1] + word[cut] + word[cut + 2 :]
    elif edit == "drop":
        word = word[:cut] + word[cut + 1 :]
    elif edit == "double":
        word = word[:cut] + word[cut] + word[cut:]
    else:
        word = word[:cut] + rng.choice("aeiouy") + word[cut + 1 :]
    found[at] = word
    return " ".join(found)


def strip_accents(text: str) -> str:
    """`text` without its combining marks, as someone without an accent key types it."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def substring_peer(flows: Sequence[FlowSummary]) -> Callable[[str], list[FlowSummary]]:
    """The peer: every flow whose casefolded name holds the casefolded query, first LIMIT."""
    folded = [(flow, flow.name.casefold()) for flow in flows]

    def scan(query: str) -> list[FlowSummary]:
        wanted = query.casefold()
        return [flow for flow, name in folded if wanted in name][:LIMIT]

    return scan


def measure_build(flows: Sequence[FlowSummary]) -> tuple[SearchIndex, Build]:
    """Build the index BUILD_REPEATS times for the time, once more under tracemalloc."""
    times = []
    index = SearchIndex.build(flows)
    for _ in range(BUILD_REPEATS):
        started = time.perf_counter()
        index = SearchIndex.build(flows)
        times.append((time.perf_counter() - started) * 1000)
    gc.collect()
    tracemalloc.start()
    index = SearchIndex.build(flows)
    held, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    tracemalloc.start()
    scan = substring_peer(flows)
    peer_held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del scan
    vocabulary = len({word for flow in flows for word in words(flow.name)})
    return index, Build(times, held, peak, peer_held, vocabulary)


def good_answer(query: Query, found: Sequence[FlowSummary]) -> bool:
    """The source flow among the answers; for a miss, no answer."""
    if query.target is None:
        return not found
    return any(flow.flow_id == query.target for flow in found)


def run_queries(
    index: SearchIndex, flows: Sequence[FlowSummary], queries: Sequence[Query]
) -> tuple[Side, Side]:
    """Every query on both sides, alternating, after a warm-up pass."""
    scan = substring_peer(flows)
    for query in queries:
        index.search(query.text, LIMIT)
        scan(query.text)
    ours, peer = Side(), Side()
    for query in queries:
        started = time.perf_counter_ns()
        result = index.search(query.text, LIMIT)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        ours.record(query.kind, elapsed, good_answer(query, [m.flow for m in result.matches]))
        started = time.perf_counter_ns()
        found = scan(query.text)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        peer.record(query.kind, elapsed, good_answer(query, found))
    return ours, peer


def osa_within(first: str, second: str, limit: int) -> int | None:
    """Hand-written: the optimal string alignment distance if at most `limit`, else None."""
    if abs(len(first) - len(second)) > limit:
        return None
    before: list[int] = []
    previous = list(range(len(second) + 1))
    for i, a in enumerate(first, 1):
        current = [i] + [0] * len(second)
        for j, b in enumerate(second, 1):
            cost = a != b
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a == second[j - 2] and first[i - 2] == b:
                value = min(value, before[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return None
        before, previous = previous, current
    return previous[-1] if previous[-1] <= limit else None


def rapidfuzz_in(word: str, scanned: list[list[str]], edits: int) -> set[str]:
    """The words of `scanned` within `edits` OSA edits of `word`, by rapidfuzz."""
    return {
        found
        for bucket in scanned
        for found, _, _ in process.extract_iter(
            word, bucket, scorer=OSA.distance, score_cutoff=edits
        )
    }


def measure_typo_lookup(
    flows: Sequence[FlowSummary], rng: random.Random
) -> tuple[int, dict[str, float]]:
    """The vocabulary's size, and ms per word to find TYPO_WORDS misspelled words' candidates
    three ways. The index scans only the words within the allowed edits' length of the typed
    word; the hand-written scan gets the same buckets. All three must find the same words."""
    vocabulary = sorted({w for f in flows for w in words(f.name) if w.isalpha() and len(w) >= 4})
    by_length: dict[int, list[str]] = {}
    for word in vocabulary:
        by_length.setdefault(len(word), []).append(word)
    typed = [with_typo(rng.choice(vocabulary), rng) for _ in range(TYPO_WORDS)]

    def buckets(word: str) -> tuple[int, list[list[str]]]:
        edits = 1 if len(word) < 8 else 2
        sizes = range(len(word) - edits, len(word) + edits + 1)
        return edits, [by_length.get(size, []) for size in sizes]

    def rapidfuzz_buckets(word: str) -> set[str]:
        edits, scanned = buckets(word)
        return rapidfuzz_in(word, scanned, edits)

    def rapidfuzz_whole(word: str) -> set[str]:
        return rapidfuzz_in(word, [vocabulary], 1 if len(word) < 8 else 2)

    def hand_written(word: str) -> set[str]:
        edits, scanned = buckets(word)
        return {
            other
            for bucket in scanned
            for other in bucket
            if osa_within(word, other, edits) is not None
        }

    methods = {
        "rapidfuzz OSA, length buckets (used)": rapidfuzz_buckets,
        "rapidfuzz OSA, whole vocabulary": rapidfuzz_whole,
        "hand-written OSA in Python, length buckets": hand_written,
    }
    ms: dict[str, float] = {}
    answers: list[list[set[str]]] = []
    for name, method in methods.items():
        started = time.perf_counter()
        answers.append([method(word) for word in typed])
        ms[name] = (time.perf_counter() - started) * 1000 / len(typed)
    if any(other != answers[0] for other in answers):
        raise RuntimeError("the typo lookups disagree")
    return len(vocabulary), ms


def run_catalog(name: str, flows: list[FlowSummary], queries: int, seed: int) -> CatalogResult:
    """Build, query and compare on one catalog."""
    progress(f"{name}: building the index of {len(flows):,} flows")
    index, build = measure_build(flows)
    rng = random.Random(seed)  # noqa: S311 - test data, guards nothing
    asked = make_queries(flows, queries, rng)
    progress(f"{name}: {len(asked):,} queries on each side")
    ours, peer = run_queries(index, flows, asked)
    progress(f"{name}: typo lookups")
    return CatalogResult(name, len(flows), build, ours, peer, *measure_typo_lookup(flows, rng))


def cells(times: Sequence[float], good: int) -> str:
    """p50, p99 and max ms, and the share of good answers."""
    return f"{quantiles(times, 50, 99, 100)} | {100 * good / len(times):.0f}%"


def search_table(ours: Side, peer: Side) -> str:
    """Per query kind and overall: both sides' p50, p99, max and good answers."""
    kinds = [kind for kind in QUERY_KINDS if kind in ours.times_ms]
    rows = [
        f"{kind} | {len(ours.times_ms[kind]):,} | {cells(ours.times_ms[kind], ours.good[kind])} | "
        f"{cells(peer.times_ms[kind], peer.good[kind])}"
        for kind in kinds
    ]
    ours_all, peer_all = ours.all_times(), peer.all_times()
    good = [sum(side.good.values()) for side in (ours, peer)]
    rows.append(
        f"**all** | {len(ours_all):,} | {cells(ours_all, good[0])} | {cells(peer_all, good[1])}"
    )
    return markdown_table(
        "query kind | queries | ours p50 ms | ours p99 ms | ours max ms | ours good | peer p50 ms "
        "| peer p99 ms | peer max ms | peer good",
        rows,
    )


def render(results: Sequence[CatalogResult], queries: int) -> str:
    """The report: setup, then figures per catalog, build and memory, typo lookups, targets."""
    lines = [
        f"{queries:,} queries per catalog, limit {LIMIT}. Peer: `query.casefold() in name`, "
        f"first {LIMIT} in catalog order.",
    ]
    for r in results:
        lines += [f"## {r.name} catalog, {r.flows:,} flows", search_table(r.ours, r.peer)]
    builds = [
        f"{r.name} | {r.flows:,} | {r.build.vocabulary:,} | "
        f"{statistics.median(r.build.times_ms):.0f} | {max(r.build.times_ms):.0f} | "
        + " | ".join(
            f"{b / 2**20:.1f}" for b in (r.build.held_bytes, r.build.peak_bytes, r.build.peer_bytes)
        )
        for r in results
    ]
    typos = [
        f"{method} | " + " | ".join(f"{r.typo_ms[method]:.3f}" for r in results)
        for method in results[0].typo_ms
    ]
    typo_headers = [f"{r.name} ({r.typo_vocabulary:,} words)" for r in results]
    lines += [
        "## Building the index",
        markdown_table(
            "catalog | flows | distinct words | build median ms | build max ms | index MiB | "
            "peak while building MiB | peer's casefolded names MiB",
            builds,
        ),
        "## Typo lookup over the vocabulary",
        markdown_table(" | ".join(["typo lookup, ms per word", *typo_headers]), typos),
        targets_table([t for r in results for t in r.targets]),
    ]
    return "\n\n".join(lines)


def main() -> int:
    """Run the benchmark and print the tables; exit status 1 when any target is missed."""
    cli = parser(__doc__, "bench.bench_search")
    cli.add_argument("--flows", type=positive_int, default=10_000, help="flows per catalog")
    cli.add_argument("--queries", type=positive_int, default=2_000, help="queries per catalog")
    cli.add_argument("--seed", type=int, default=0, help="for the catalogs and the queries")
    args = cli.parse_args()
    catalogs = {
        "emulator": [seeded.summary for seeded in make_flows(args.flows, seed=args.seed)],
        "wide": wide_catalog(args.flows, random.Random(args.seed)),  # noqa: S311 - test data
    }
    results = [
        run_catalog(name, flows, args.queries, args.seed) for name, flows in catalogs.items()
    ]
    ok = all(t.met for r in results for t in r.targets)
    return finish(args, __doc__, render(results, args.queries), results, ok, "rapidfuzz")


if __name__ == "__main__":
    sys.exit(main())
