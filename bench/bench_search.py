"""Benchmark name search over a space of 10,000 flows, beside a plain substring scan.

Run from the project root::

    python -m bench.bench_search [--flows N] [--queries N] [--seed N] [--json PATH]

Two catalogs of --flows flows each:

- "emulator": the emulator's own (`make_flows`), names built from a few dozen purposes and
  qualifiers, with accents, versions, languages and copies: many near-duplicates.
- "wide": names of two to five words drawn from thousands of invented words, so that the
  vocabulary that typo matching scans is ten times larger.

Over each, a mix of queries a person would type, each made from a flow picked at random (see
QUERY_KINDS), is searched one query at a time in this process, after one warm-up pass:

- flowpreview: `SearchIndex.search(query, limit=10)`;
- peer: a plain substring scan, `query.casefold() in name` over the names casefolded in
  advance, keeping the first 10 in catalog order.

Besides the times: whether each side answered well (the flow the query was made from among
its 10, or for a miss no answer at all), the time and memory (tracemalloc) to build the index,
and the typo lookup that made us pick rapidfuzz: its OSA scan beside a hand-written one.

The exit status is 1 when any target is missed.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bench.support import (
    Target,
    describe_machine,
    machine,
    markdown_table,
    percentile,
    positive_int,
    progress,
    targets_table,
    write_json,
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
QUERY_KINDS = (
    "full name",
    "words shuffled",
    "unfinished",
    "short prefix",
    "typo",
    "no accents, upper case",
    "miss",
)
KIND_WEIGHTS = (15, 10, 25, 10, 20, 10, 10)


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

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {"times_ms": self.times_ms, "good": self.good}


@dataclass(frozen=True, slots=True)
class Build:
    """Building the index: times (ms), and memory (bytes) held afterwards and at the peak."""

    times_ms: list[float]
    held_bytes: int
    peak_bytes: int
    peer_bytes: int
    vocabulary: int

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {
            "times_ms": self.times_ms,
            "held_bytes": self.held_bytes,
            "peak_bytes": self.peak_bytes,
            "peer_bytes": self.peer_bytes,
            "vocabulary": self.vocabulary,
        }


@dataclass(frozen=True, slots=True)
class TypoLookup:
    """Finding a typed word's typos among the vocabulary: ms per word, by each method."""

    words: int
    vocabulary: int
    ms_per_word: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {"words": self.words, "vocabulary": self.vocabulary, "ms": self.ms_per_word}


@dataclass(frozen=True, slots=True)
class CatalogResult:
    """One catalog's figures."""

    name: str
    flows: int
    build: Build
    ours: Side
    peer: Side
    typos: TypoLookup

    @property
    def targets(self) -> list[Target]:
        """flowpreview's targets on this catalog."""
        p99 = percentile(self.ours.all_times(), 99)
        build = statistics.median(self.build.times_ms)
        return [
            Target(
                f"{self.name}: search p99 <= {P99_TARGET_MS:g} ms",
                f"{p99:.2f} ms",
                p99 <= P99_TARGET_MS,
            ),
            Target(
                f"{self.name}: build (median) < {BUILD_TARGET_MS:g} ms",
                f"{build:.0f} ms",
                build < BUILD_TARGET_MS,
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        """The raw figures."""
        return {
            "flows": self.flows,
            "build": self.build.to_json(),
            "ours": self.ours.to_json(),
            "peer": self.peer.to_json(),
            "typo_lookup": self.typos.to_json(),
        }


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


def make_queries(flows: Sequence[FlowSummary], count: int, rng: random.Random) -> list[Query]:
    """`count` queries of QUERY_KINDS, drawn by KIND_WEIGHTS, each from a random flow."""
    makers: dict[str, Callable[[FlowSummary], str]] = {
        "full name": lambda flow: flow.name,
        "words shuffled": lambda flow: shuffled(flow.name, rng),
        "unfinished": lambda flow: unfinished(flow.name, rng),
        "short prefix": lambda flow: words(flow.name)[0][: rng.randint(1, 3)],
        "typo": lambda flow: with_typo(flow.name, rng),
        "no accents, upper case": lambda flow: strip_accents(flow.name).upper(),
        "miss": lambda _: " ".join(
            "".join(rng.choices("bcdfghjklmnpqrstvwxz", k=rng.randint(4, 8)))
            for _ in range(rng.randint(1, 2))
        ),
    }
    queries = []
    for kind in rng.choices(QUERY_KINDS, KIND_WEIGHTS, k=count):
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


def substring_peer(
    flows: Sequence[FlowSummary],
) -> tuple[Callable[[str], list[FlowSummary]], list[tuple[FlowSummary, str]]]:
    """The peer: every flow whose casefolded name holds the casefolded query, first LIMIT."""
    folded = [(flow, flow.name.casefold()) for flow in flows]

    def scan(query: str) -> list[FlowSummary]:
        wanted = query.casefold()
        return [flow for flow, name in folded if wanted in name][:LIMIT]

    return scan, folded


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
    _, folded = substring_peer(flows)
    peer_held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del folded
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
    scan, _ = substring_peer(flows)
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


def measure_typo_lookup(flows: Sequence[FlowSummary], rng: random.Random) -> TypoLookup:
    """Typo candidates for TYPO_WORDS misspelled words, three ways, over the same vocabulary.

    The index scans only the words within the allowed edits' length of the typed word; the
    hand-written scan gets the same buckets. All three must find the same words.
    """
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
        return {
            found
            for bucket in scanned
            for found, _, _ in process.extract_iter(
                word, bucket, scorer=OSA.distance, score_cutoff=edits
            )
        }

    def rapidfuzz_whole(word: str) -> set[str]:
        edits = 1 if len(word) < 8 else 2
        return {
            found
            for found, _, _ in process.extract_iter(
                word, vocabulary, scorer=OSA.distance, score_cutoff=edits
            )
        }

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
    answers: dict[str, list[set[str]]] = {}
    for name, method in methods.items():
        started = time.perf_counter()
        answers[name] = [method(word) for word in typed]
        ms[name] = (time.perf_counter() - started) * 1000 / len(typed)
    first, *others = answers.values()
    if any(other != first for other in others):
        raise RuntimeError("the typo lookups disagree")
    return TypoLookup(len(typed), len(vocabulary), ms)


def run_catalog(name: str, flows: list[FlowSummary], queries: int, seed: int) -> CatalogResult:
    """Build, query and compare on one catalog."""
    progress(f"{name}: building the index of {len(flows):,} flows")
    index, build = measure_build(flows)
    rng = random.Random(seed)  # noqa: S311 - test data, guards nothing
    asked = make_queries(flows, queries, rng)
    progress(f"{name}: {len(asked):,} queries on each side")
    ours, peer = run_queries(index, flows, asked)
    progress(f"{name}: typo lookups")
    typos = measure_typo_lookup(flows, rng)
    return CatalogResult(name, len(flows), build, ours, peer, typos)


def ms(value: float) -> str:
    """Milliseconds, two decimals."""
    return f"{value:.2f}"


def search_table(result: CatalogResult) -> str:
    """Per query kind and overall: both sides' p50, p99, max and good answers."""
    rows = []
    kinds = [kind for kind in QUERY_KINDS if kind in result.ours.times_ms]
    for kind in [*kinds, None]:
        if kind is None:
            ours_t, peer_t = result.ours.all_times(), result.peer.all_times()
            ours_good, peer_good = sum(result.ours.good.values()), sum(result.peer.good.values())
            label = "**all**"
        else:
            ours_t, peer_t = result.ours.times_ms[kind], result.peer.times_ms[kind]
            ours_good, peer_good = result.ours.good[kind], result.peer.good[kind]
            label = kind
        rows.append(
            [
                label,
                f"{len(ours_t):,}",
                ms(percentile(ours_t, 50)),
                ms(percentile(ours_t, 99)),
                ms(max(ours_t)),
                f"{100 * ours_good / len(ours_t):.0f}%",
                ms(percentile(peer_t, 50)),
                ms(percentile(peer_t, 99)),
                ms(max(peer_t)),
                f"{100 * peer_good / len(peer_t):.0f}%",
            ]
        )
    return markdown_table(
        [
            "query kind",
            "queries",
            "ours p50 ms",
            "ours p99 ms",
            "ours max ms",
            "ours good",
            "peer p50 ms",
            "peer p99 ms",
            "peer max ms",
            "peer good",
        ],
        rows,
        align="lrrrrrrrrr",
    )


def build_table(results: Sequence[CatalogResult]) -> str:
    """Build time and memory per catalog."""
    rows = [
        [
            r.name,
            f"{r.flows:,}",
            f"{r.build.vocabulary:,}",
            f"{statistics.median(r.build.times_ms):.0f}",
            f"{max(r.build.times_ms):.0f}",
            f"{r.build.held_bytes / 2**20:.1f}",
            f"{r.build.peak_bytes / 2**20:.1f}",
            f"{r.build.peer_bytes / 2**20:.1f}",
        ]
        for r in results
    ]
    return markdown_table(
        [
            "catalog",
            "flows",
            "distinct words",
            "build median ms",
            "build max ms",
            "index MiB",
            "peak while building MiB",
            "peer's casefolded names MiB",
        ],
        rows,
        align="lrrrrrrr",
    )


def typo_table(results: Sequence[CatalogResult]) -> str:
    """The typo lookup, ms per typed word, per method and catalog."""
    methods = list(results[0].typos.ms_per_word)
    rows = [
        [method, *(f"{r.typos.ms_per_word[method]:.3f}" for r in results)] for method in methods
    ]
    headers = [
        "typo lookup, ms per word",
        *(f"{r.name} ({r.typos.vocabulary:,} words)" for r in results),
    ]
    return markdown_table(headers, rows, align="l" + "r" * len(results))


def render(results: Sequence[CatalogResult], queries: int) -> str:
    """The report: setup, then figures per catalog, build and memory, typo lookups, targets."""
    lines = [
        "# Name search (SearchIndex) vs a plain substring scan",
        "",
        describe_machine("rapidfuzz"),
        f"{queries:,} queries per catalog, one at a time in one process after a warm-up pass, "
        f"limit {LIMIT}. 'good': the flow the query was made from is among the {LIMIT} "
        "answers (for a miss: no answer at all). Peer: `query.casefold() in name` over "
        f"names casefolded in advance, first {LIMIT} in catalog order.",
    ]
    for result in results:
        lines += ["", f"## {result.name} catalog, {result.flows:,} flows", "", search_table(result)]
    lines += [
        "",
        "## Building the index",
        "",
        build_table(results),
        "",
        "## Typo lookup over the vocabulary",
        "",
        typo_table(results),
        "",
        targets_table([t for r in results for t in r.targets]),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_search",
        description="flowpreview's name search vs a plain substring scan.",
    )
    parser.add_argument("--flows", type=positive_int, default=10_000, help="flows per catalog")
    parser.add_argument("--queries", type=positive_int, default=2_000, help="queries per catalog")
    parser.add_argument("--seed", type=int, default=0, help="for the catalogs and the queries")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the raw figures here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the tables; exit status 1 when any target is missed."""
    args = parse_args(argv)
    started = time.perf_counter()
    catalogs = {
        "emulator": [seeded.summary for seeded in make_flows(args.flows, seed=args.seed)],
        "wide": wide_catalog(args.flows, random.Random(args.seed)),  # noqa: S311 - test data
    }
    results = [
        run_catalog(name, flows, args.queries, args.seed) for name, flows in catalogs.items()
    ]
    progress(f"done in {time.perf_counter() - started:.0f}s")
    print(render(results, args.queries))
    if args.json is not None:
        write_json(
            args.json,
            {
                **machine("rapidfuzz"),
                "settings": vars(args) | {"json": str(args.json)},
                "catalogs": {r.name: r.to_json() for r in results},
            },
        )
    return 0 if all(t.met for r in results for t in r.targets) else 1


if __name__ == "__main__":
    sys.exit(main())
