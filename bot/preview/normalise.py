"""The words of a flow name, a query or a message, with case, accents and punctuation set aside.

Both sides of every comparison go through `words`, so "Café-Loyalty v3", "cafe loyalty V 3"
and "CAFÉ loyalty, version 3" all read as `("cafe", "loyalty", "v", "3")`.
"""

from __future__ import annotations

import re
import unicodedata

# Runs of letters, or runs of digits: "v3" is two words, so "v3", "v 3" and "v.3" agree.
_WORD = re.compile(r"[^\W\d_]+|\d+")
_DIGIT = re.compile(r"\d")
# Spelled-out versions read as "v" when a number follows: "version 3" is "v 3".
_VERSION_WORDS = frozenset({"version", "ver", "vers", "v"})
VERSION = "v"
# Beyond this a run of digits keeps its zeros: int() of a very long run is slow, and no
# version number is that long.
_MAX_NUMBER_DIGITS = 20
# How many distinct characters the mark table remembers; past that it still answers, but
# an unusual message cannot grow it further.
_MAX_REMEMBERED_CHARS = 4096


class _MarkTable(dict[int, str | None]):
    """A str.translate table that deletes combining marks, learning each character once.

    str.translate looks every character up in C; only a character not yet seen costs a
    Python call, which is what makes folding a catalog of accented names cheap.
    """

    def __missing__(self, code: int) -> str | None:
        kept = None if unicodedata.category(chr(code)).startswith("M") else chr(code)
        if len(self) < _MAX_REMEMBERED_CHARS:
            self[code] = kept
        return kept


_MARKS = _MarkTable()


def fold(text: str) -> str:
    """`text` casefolded, compatibility-decomposed (NFKD), without its combining marks.

    Casefolding comes first because it can itself produce marks ("İ" folds to "i" and a dot).
    Dropping every mark (accents, and the vowel signs of scripts such as Devanagari) keeps a
    word in one piece; both sides of a comparison lose the same marks.
    """
    folded = text.casefold()
    if folded.isascii():
        return folded
    return unicodedata.normalize("NFKD", folded).translate(_MARKS)


def words(text: str) -> tuple[str, ...]:
    """The normalised words of `text`: letter runs and digit runs, in order.

    Numbers lose their leading zeros ("v03" is "v 3"), and "version", "ver" or "v" before a
    number all read as "v".
    """
    folded = fold(text)
    tokens = _WORD.findall(folded)
    if _DIGIT.search(folded) is None:
        return tuple(tokens)
    for index, token in enumerate(tokens):
        if token.isdecimal():
            if len(token) <= _MAX_NUMBER_DIGITS:
                tokens[index] = str(int(token))
            if index and tokens[index - 1] in _VERSION_WORDS:
                tokens[index - 1] = VERSION
    return tuple(tokens)


def is_number(word: str) -> bool:
    """Whether a normalised word is a number (which is matched exactly, never as a typo)."""
    return word.isdecimal()
