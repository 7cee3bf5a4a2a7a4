"""The distinct words of a catalog's flow names, and which of them a typed word may mean."""

from __future__ import annotations

from bisect import bisect_left

from bot.preview.normalise import is_number

# Points a typed word earns for the name word it matches; a flow's score adds them up.
EXACT = 10
PREFIX = 7  # the typed word begins the name word: "appoint" for "appointment"
TYPO = 6  # one edit away: "apointment", "booknig" (a swap of neighbours is one edit)
FAR_TYPO = 4  # two edits away, for long words only
TYPO_PREFIX = 3  # the last typed word begins the name word but for one edit: "apoint"

MIN_PREFIX = 3  # a typed word other than the last needs this many letters to match as a prefix
MIN_TYPO = 4  # shorter words must be spelled right: "cat" is no typo for "car"
LONG_WORD = 8  # words this long may have two typos
MAX_TYPO_PREFIX = 16  # longer last words are matched as prefixes only when spelled right
# Past every real word: a prefix's range in the sorted vocabulary ends before prefix + this.
_AFTER_ALL = "\U0010ffff"
_NOTHING: tuple[list[str], list[int]] = ([], [])


class Vocabulary:
    """Word IDs, each with the flows (by index) whose names hold the word, in index order.

    Words are added while flows are added in order; `freeze` then builds what matching
    needs: the words sorted, for prefixes, and the words and prefixes of letters grouped by
    length, for typos.
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self.words: list[str] = []
        self.postings: list[list[int]] = []
        # Which IDs some name holds as a word, not only as two words joined ("signup").
        self._whole: list[bool] = []
        self._sorted: list[str] = []
        self._sorted_ids: list[int] = []
        # Typo lookups scan these: whole words of letters by length, with their IDs, and the
        # distinct prefixes of such words by length.
        self._by_length: dict[int, tuple[list[str], list[int]]] = {}
        self._prefixes: dict[int, list[str]] = {}

    def add(self, word: str, flow: int, *, joined: bool = False) -> int:
        """The ID of `word`, recording that flow `flow` holds it. Flows come in rising order.

        A `joined` word is two adjacent name words spelled as one: it matches exactly or as
        a prefix, but typos are looked for among real words only.
        """
        vid = self._ids.get(word)
        if vid is None:
            vid = len(self.words)
            self._ids[word] = vid
            self.words.append(word)
            self.postings.append([])
            self._whole.append(False)
        if not joined:
            self._whole[vid] = True
        postings = self.postings[vid]
        if not postings or postings[-1] != flow:
            postings.append(flow)
        return vid

    def add_all(self, words: tuple[str, ...], flow: int) -> tuple[int, ...]:
        """The IDs of `words`, recording that flow `flow` holds them (see `add`)."""
        ids = self._ids
        found: list[int] = []
        for word in words:
            vid = ids.get(word)
            if vid is None or not self._whole[vid]:
                vid = self.add(word, flow)
            else:
                postings = self.postings[vid]
                if postings[-1] != flow:
                    postings.append(flow)
            found.append(vid)
        return tuple(found)

    def freeze(self) -> None:
        """Build the lookups for prefixes and typos; call once, after the last `add`."""
        order = sorted(range(len(self.words)), key=self.words.__getitem__)
        self._sorted = [self.words[vid] for vid in order]
        self._sorted_ids = order
        letters = [
            (vid, word)
            for vid, word in enumerate(self.words)
            if self._whole[vid] and len(word) >= MIN_TYPO - 1 and not is_number(word)
        ]
        for vid, word in letters:
            if len(word) >= MIN_TYPO:
                strings, ids = self._by_length.setdefault(len(word), ([], []))
                strings.append(word)
                ids.append(vid)
        for size in range(MIN_TYPO - 1, MAX_TYPO_PREFIX + 2):
            self._prefixes[size] = list(
                dict.fromkeys(word[:size] for _, word in letters if len(word) > size)
            )

    def ids_of(self, words: tuple[str, ...]) -> list[int]:
        """The IDs of `words`, every one of which some name holds."""
        return list(map(self._ids.__getitem__, words))

    def id_of(self, word: str) -> int | None:
        """The ID of `word`, if some name holds it."""
        return self._ids.get(word)

    def document_frequency(self, word: str) -> int:
        """How many flows' names hold `word`."""
        vid = self._ids.get(word)
        return 0 if vid is None else len(self.postings[vid])

    def matches(self, typed: str, *, last: bool) -> dict[int, int]:
        """The vocabulary words `typed` may mean, each with its points (the best way it matches).

        The last typed word may be unfinished, so it matches as a prefix however short, and,
        when no word begins with it, as a prefix with one typo. Numbers match only exactly, or
        as a prefix when last.
        """
        found: dict[int, int] = {}
        number = is_number(typed)
        if last or (len(typed) >= MIN_PREFIX and not number):
            found = dict.fromkeys(self._starting_with(typed), PREFIX)
        exact = self._ids.get(typed)
        if exact is not None:
            found[exact] = EXACT
        if number or len(typed) < MIN_TYPO:
            return found
        # Loaded by the first search that looks for typos, not by every replica at start.
        from rapidfuzz import process  # noqa: PLC0415
        from rapidfuzz.distance import OSA  # noqa: PLC0415

        begins_a_word = bool(found)
        edits = 1 if len(typed) < LONG_WORD else 2
        for size in range(len(typed) - edits, len(typed) + edits + 1):
            strings, ids = self._by_length.get(size, _NOTHING)
            for _, distance, index in process.extract(
                typed, strings, scorer=OSA.distance, score_cutoff=edits, limit=None
            ):
                _raise(found, ids[index], TYPO if distance <= 1 else FAR_TYPO)
        if last and not begins_a_word and len(typed) <= MAX_TYPO_PREFIX:
            for size in range(len(typed) - 1, len(typed) + 2):
                near = process.extract(
                    typed,
                    self._prefixes.get(size, []),
                    scorer=OSA.distance,
                    score_cutoff=1,
                    limit=None,
                )
                for prefix, _, _ in near:
                    for vid in self._starting_with(prefix):
                        _raise(found, vid, TYPO_PREFIX)
        return found

    def _starting_with(self, prefix: str) -> list[int]:
        """The IDs of the words that begin with `prefix`, itself included."""
        low = bisect_left(self._sorted, prefix)
        return self._sorted_ids[low : bisect_left(self._sorted, prefix + _AFTER_ALL, low)]


def _raise(found: dict[int, int], vid: int, points: int) -> None:
    """Give `vid` these points unless it already earned more."""
    if found.get(vid, 0) < points:
        found[vid] = points
