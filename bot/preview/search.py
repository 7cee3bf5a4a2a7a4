"""Finding a space's flows by name: what someone typed, or names written in a message.

Every word typed must match a word of the name, in any order: exactly, as its start, or with
a small typo (see `bot.preview.vocabulary` for the points each earns). A query of three words
or more may leave one word unmatched, unless it is a number: "sign up v3" never lists
"Sign-up v2".
"""

from __future__ import annotations

from bisect import insort
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, pairwise, repeat
from operator import itemgetter

from bot.cams.models import FlowSummary
from bot.preview.mentions import is_weak_name, message_pieces
from bot.preview.normalise import is_number, words
from bot.preview.vocabulary import EXACT, TYPO, Vocabulary

MAX_QUERY_CHARS = 200
MAX_QUERY_WORDS = 8
MAX_LIMIT = 100
# From this many query words on, one word other than a number may match nothing.
MISS_FROM_WORDS = 3
# A top match is clear when it leads the next by at least what an exact word earns over a
# typo: "appointment" clearly means "Appointment" over "Apointment reminder".
CLEAR_MARGIN = EXACT - TYPO
# Phase one scores a flow MATCHED per typed word it matches plus the word's points, so that
# one number orders by words matched, then points (the points of MAX_QUERY_WORDS words never
# add up to MATCHED).
MATCHED = 1000
# Adjacent letter words are also indexed joined ("signup" finds "Sign-up") when the shorter
# one has at most this many letters; longer pairs are rarely written as one word.
MAX_COMPOUND_PART = 4

# A ranked candidate: (misses, -points, not exact name, extra name words, not in order, flow).
# Comparing these tuples is the ranking; the flow index last makes it total and stable,
# since flows are indexed by word count, then name, then ID.
_Key = tuple[int, int, bool, int, bool, int]


@dataclass(frozen=True, slots=True)
class Match:
    """A flow that matches a query, and its score: 1.0 when every query word is a name word."""

    flow: FlowSummary
    score: float


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The best matches, best first, and the one match the query clearly means, if any."""

    matches: tuple[Match, ...]
    clear: FlowSummary | None


class SearchIndex:
    """A space's flows, indexed for search by name; build with `build`.

    Its answers never change once built: it only remembers, as messages ask, which names are
    too weak to find unless set apart. Safe to share between tasks.

    Flows are held in ranking order for ties: fewer name words first, then by name, then by
    ID. Their position in that order is the index every structure here refers to; flows of
    the same name are therefore side by side.

    A catalog may hold tens of thousands of flows, so what is kept per flow is kept lean: a
    name's word IDs are looked up when needed rather than kept, a name maps to its first flow
    rather than to a list, and what many flows hold alike is held once.
    """

    def __init__(
        self,
        *,
        flows: tuple[FlowSummary, ...],
        names: tuple[tuple[str, ...], ...],
        vocabulary: Vocabulary,
        compounds: tuple[tuple[tuple[int, int], ...], ...],
        alphabetical: tuple[FlowSummary, ...],
        by_name: dict[tuple[str, ...], int],
    ) -> None:
        """`by_name` maps each name to its first flow; `compounds` holds, per flow, its joined
        pairs of words with the position of each pair's first word."""
        self._flows = flows
        self._names = names
        self._vocabulary = vocabulary
        self._compounds = compounds
        self._alphabetical = alphabetical
        self._by_id = {flow.flow_id: flow for flow in flows}
        self._weak: dict[tuple[str, ...], bool] = {}
        self._by_name = by_name
        # How many flows share a name, for the names more than one flow has: a name's flows
        # run up to the next name's first.
        self._repeats = {
            first: following - first
            for first, following in pairwise((*by_name.values(), len(flows)))
            if following - first > 1
        }
        # For the message scan: the name lengths (in words) that begin with each word,
        # longest first, so that the longest name at a position wins.
        lengths: dict[str, set[int]] = {}
        for name in self._by_name:
            if name:
                lengths.setdefault(name[0], set()).add(len(name))
        self._lengths_by_first = {
            word: sorted(found, reverse=True) for word, found in lengths.items()
        }

    @classmethod
    def build(cls, flows: Sequence[FlowSummary]) -> SearchIndex:
        """Index `flows`. A flow ID listed twice keeps its first entry."""
        distinct: dict[str, FlowSummary] = {}
        for flow in flows:
            distinct.setdefault(flow.flow_id, flow)
        # Joined by a space, which sorts before any letter or digit, names compare as their
        # word tuples do; flow IDs are distinct, so no comparison reaches the last two items.
        entries = []
        for flow in distinct.values():
            name = words(flow.name)
            entries.append((len(name), " ".join(name), flow.name, flow.flow_id, name, flow))
        alphabetical = tuple(entry[5] for entry in sorted(entries, key=itemgetter(1, 2, 3)))
        entries.sort()
        vocabulary = Vocabulary()
        names: list[tuple[str, ...]] = []
        by_name: dict[tuple[str, ...], int] = {}
        compounds: list[tuple[tuple[int, int], ...]] = []
        # Many flows join the same words at the same place ("sign up" first): one copy of each.
        pairs: dict[tuple[int, int], tuple[int, int]] = {}
        joins: dict[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]] = {}
        for index, (*_, name, _) in enumerate(entries):
            # Spelled with the vocabulary's own strings, so each word is kept once.
            spelled = tuple(map(vocabulary.words.__getitem__, vocabulary.add_all(name, index)))
            names.append(spelled)
            # Flows of one name are side by side: the first stands for them all.
            by_name.setdefault(spelled, index)
            joined = tuple(
                pairs.setdefault(pair, pair)
                for pair in (
                    (vocabulary.add(first + second, index, joined=True), at)
                    for at, (first, second) in enumerate(pairwise(name))
                    if min(len(first), len(second)) <= MAX_COMPOUND_PART
                    and first.isalpha()
                    and second.isalpha()
                )
            )
            compounds.append(joins.setdefault(joined, joined))
        vocabulary.freeze()
        return cls(
            flows=tuple(entry[5] for entry in entries),
            names=tuple(names),
            vocabulary=vocabulary,
            compounds=tuple(compounds),
            alphabetical=alphabetical,
            by_name=by_name,
        )

    def __len__(self) -> int:
        return len(self._flows)

    def get(self, flow_id: str) -> FlowSummary | None:
        """The flow with this ID, if the index holds it."""
        return self._by_id.get(flow_id)

    def first(self, limit: int) -> tuple[FlowSummary, ...]:
        """Up to `limit` flows in name order: what to offer before anything is typed."""
        return self._alphabetical[: _bounded(limit)]

    def search(self, query: str, limit: int = 10) -> SearchResult:
        """The flows whose names match `query`, best first, at most `limit` (at most 100).

        Ranking: a flow that matches every word before one that misses a word; then more
        points; then the whole name equal to the query; then fewer name words left over;
        then query words in the name's order; then shorter names; then name, then flow ID.
        A query without words (only punctuation, say) matches nothing: offer `first`.
        """
        typed = words(query[:MAX_QUERY_CHARS])[:MAX_QUERY_WORDS]
        if not typed:
            return SearchResult((), None)
        # A word typed twice asks for nothing more than once.
        distinct = tuple(dict.fromkeys(typed))
        tables = [self._vocabulary.matches(word, last=word == typed[-1]) for word in distinct]
        self._join_pairs(typed, distinct, tables)
        asked = _Query(distinct, tables, typed)
        # First, in bulk, each candidate's total: MATCHED per word it matches plus points.
        by_flow = [self._best_by_flow(table) for table in tables]
        candidates = _candidates(distinct, by_flow)
        if len(by_flow) == 1:
            totals = list(map(by_flow[0].__getitem__, candidates))
        else:
            per_word = (map(best.get, candidates, repeat(0)) for best in by_flow)
            totals = list(map(sum, zip(*per_word, strict=True)))
        enough = MATCHED * (len(distinct) - _may_miss(distinct))
        levels = sorted((total for total in set(totals) if total >= enough), reverse=True)
        if not levels:
            return SearchResult((), None)
        # Then the full ranking, only as far down as the best `limit` can reach.
        wanted = max(_bounded(limit), 2)
        best = self._top(asked, _Levels(candidates, totals, levels), wanted)
        possible = EXACT * len(distinct)
        matches = tuple(Match(self._flows[key[5]], -key[1] / possible) for key in best)
        matched = sum(map(enough.__le__, totals))
        return SearchResult(matches[: _bounded(limit)], self._clear(best, matched))

    def find_in_text(self, text: str, limit: int = 10) -> tuple[FlowSummary, ...]:
        """Flows whose whole name a message writes, in the order written, at most `limit`.

        Names are matched as whole words, the longest name at each place, never inside
        Slack markup (mentions, channels, dates) or links. A weak name (see
        `mentions.is_weak_name`) counts only when set apart: in quotes, backticks or bold.
        """
        found: dict[str, FlowSummary] = {}
        wanted = _bounded(limit)
        for piece in message_pieces(text):
            if len(found) >= wanted:
                break
            at = 0
            while at < len(piece.words) and len(found) < wanted:
                name = self._longest_name_at(piece.words, at, piece.set_apart)
                if name is None:
                    at += 1
                    continue
                for index in self._named(name):
                    found.setdefault(self._flows[index].flow_id, self._flows[index])
                at += len(name)
        return tuple(found.values())[:wanted]

    def _longest_name_at(
        self, text: tuple[str, ...], at: int, set_apart: frozenset[tuple[str, ...]]
    ) -> tuple[str, ...] | None:
        for length in self._lengths_by_first.get(text[at], ()):
            name = text[at : at + length]
            if (
                len(name) == length
                and name in self._by_name
                and (name in set_apart or not self._is_weak(name))
            ):
                return name
        return None

    def _named(self, name: tuple[str, ...]) -> range:
        """The flows named `name` (as words), by index."""
        first = self._by_name.get(name)
        if first is None:
            return range(0)
        return range(first, first + self._repeats.get(first, 1))

    def _is_weak(self, name: tuple[str, ...]) -> bool:
        # Remembered per name (at most one entry per name in the index): a message that
        # repeats a weak name asks again at every place.
        weak = self._weak.get(name)
        if weak is None:
            weak = is_weak_name(name, self._vocabulary.document_frequency, len(self._flows))
            self._weak[name] = weak
        return weak

    def _join_pairs(
        self, typed: tuple[str, ...], distinct: tuple[str, ...], tables: list[dict[int, int]]
    ) -> None:
        """Let two typed words match a name word they spell together: "sign up" for "Signup"."""
        for first, second in pairwise(typed):
            vid = self._vocabulary.id_of(first + second)
            if vid is not None:
                tables[distinct.index(first)][vid] = EXACT
                tables[distinct.index(second)][vid] = EXACT

    def _best_by_flow(self, table: dict[int, int]) -> dict[int, int]:
        """For one typed word: every flow it matches, with MATCHED plus its best points."""
        postings = self._vocabulary.postings
        best: dict[int, int] = {}
        # Weakest first, so that a flow's better match overwrites a worse one; dict.fromkeys
        # and update keep the per-flow work in C.
        for vid in sorted(table, key=table.__getitem__):
            best.update(dict.fromkeys(postings[vid], MATCHED + table[vid]))
        return best

    def _top(self, query: _Query, levels: _Levels, wanted: int) -> list[_Key]:
        """The `wanted` best ranking keys, ranking candidates level by level (best total first).

        Within a level, candidates come in index order, so fewer words first; once even the
        best key a candidate could have ranks below the `wanted`th found, no later candidate,
        nor any of a later level, can make it in.
        """
        # Flows named exactly as typed rank first in the first level; rank them up front so
        # that the cut-off below never has to consider them.
        exact = self._named(query.name)
        top: list[_Key] = []
        for flow in exact:
            if (key := self._rank(flow, query)) is not None:
                insort(top, key)
        for level in levels.levels:
            misses = len(query.words) - level // MATCHED
            points = level % MATCHED
            for flow in compress(levels.candidates, map(level.__eq__, levels.totals)):
                if flow in exact:
                    continue
                if len(top) >= wanted:
                    extra_at_least = len(self._names[flow]) - (len(query.words) - misses)
                    if (misses, -points, True, extra_at_least, False, flow) > top[wanted - 1]:
                        return top[:wanted]
                if (key := self._rank(flow, query)) is not None:
                    insort(top, key)
        return top[:wanted]

    def _rank(self, flow: int, query: _Query) -> _Key | None:
        """`flow`'s full ranking key for this query; None if it has no word in common."""
        word_ids = self._vocabulary.ids_of(self._names[flow])
        compounds = self._compounds[flow]
        points = misses = covered = 0
        previous = -1
        ordered = True
        for table in query.tables:
            best = where = 0
            for position, vid in enumerate(word_ids):
                earned = table.get(vid, 0)
                if earned > best:
                    best, where = earned, position
            # A joined pair ("signup" for "Sign up") stands at its first word.
            for vid, position in compounds:
                earned = table.get(vid, 0)
                if earned > best:
                    best, where = earned, position
            if not best:
                misses += 1
                continue
            points += best
            ordered = ordered and where > previous
            previous = where
            covered |= 1 << where
        if misses == len(query.tables):
            return None
        extra = len(word_ids) - covered.bit_count()
        return (misses, -points, self._names[flow] != query.name, extra, not ordered, flow)

    def _clear(self, best: list[_Key], matched: int) -> FlowSummary | None:
        """The one flow the query clearly means: see "Search by name" in docs/using.md."""
        top = best[0]
        misses, points, not_exact, flow = top[0], -top[1], top[2], top[5]
        if misses or len(self._named(self._names[flow])) > 1:
            return None
        if not not_exact or matched == 1:
            return self._flows[flow]
        second = best[1]
        if second[0] > 0 or points + second[1] >= CLEAR_MARGIN:
            return self._flows[flow]
        return None


@dataclass(frozen=True, slots=True)
class _Query:
    """The distinct typed words, for each the vocabulary IDs it matches with their points, and
    all the typed words, which a name must equal to be the exact name."""

    words: tuple[str, ...]
    tables: list[dict[int, int]]
    name: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Levels:
    """Candidates in index order, their phase-one totals, and the totals that match, best first."""

    candidates: list[int]
    totals: list[int]
    levels: list[int]


def _may_miss(typed: tuple[str, ...]) -> int:
    """How many typed words a match may leave unmatched."""
    return 1 if len(typed) >= MISS_FROM_WORDS else 0


def _candidates(typed: tuple[str, ...], by_flow: list[dict[int, int]]) -> list[int]:
    """Flows that may match, in index order: those meeting every word, or all but one.

    A number is never the word left out: "sign up v3" must not list "Sign-up v2".
    """
    by_size = sorted(by_flow, key=len)
    found: set[int] = set(by_size[0])
    if _may_miss(typed):
        # Whatever misses one word meets at least one of any two: the two rarest will do.
        found.update(by_size[1])
    else:
        found.intersection_update(*by_size[1:])
    for at, word in enumerate(typed):
        if is_number(word):
            found.intersection_update(by_flow[at])
    return sorted(found)


def _bounded(limit: int) -> int:
    return max(0, min(limit, MAX_LIMIT))
