"""Where a message may name a flow: its words outside markup and links, and what it sets apart.

A message is cut into pieces at every piece of Slack markup (`<@U…>`, `<#C…|general>`,
`<!date^…>`, `<url|label>`) and every bare link, so that a name is never found inside one, nor
across one. Of a `<url|label>` link only the label, which people read, is kept.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from bot.preview.normalise import is_number, words

# Slack's messages are at most 40,000 characters; anything longer is cut, not scanned.
MAX_TEXT_CHARS = 40_000
# A name with fewer letters and digits than this ("FAQ", "v2") counts only when set apart.
MIN_NAME_CHARS = 4
# A one-word name is generic in its space when that many of the space's names hold the word.
FREQUENT_MIN_NAMES = 3
FREQUENT_SHARE = 0.01

_SLACK_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
# Links Slack did not wrap: a whitespace-separated token with a scheme, starting "www.", or
# holding a domain followed by a path. Tokens are tested one by one, so the cost stays linear
# in the message's length whatever it holds.
_WHITESPACE = re.compile(r"(\s+)")
_DOMAIN_PATH = re.compile(r"\.[a-z]{2,}/", re.IGNORECASE)
# What sets a name apart: backticks or code blocks, bold (*x* or **x**), or quotes. A run of
# backticks or stars may open a span only where it begins, and never gives characters back,
# so that a long run costs linear time rather than quadratic.
_SET_APART = re.compile(
    r"(?<!`)`++([^`]++)`+|(?<!\*)\*++([^*\n]++)\*+|\"([^\"\n]+)\"|\u201c([^\u201d\n]+)\u201d"
    r"|\u2018([^\u2019\n]+)\u2019|\u00ab([^\u00bb\n]+)\u00bb|(?<!\w)'([^'\n]+)'(?!\w)"
)
# Words too common in chat for a name made only of them to be taken as a flow's name when it
# is not set apart: "please sign up", "thank you", "the new survey".
_COMMON_WORDS_TEXT = """
    a about after again all also am an and any are as ask at back be been before being but by
    can check come could day did do does done for from get give go good got had has have hello
    help here hey hi how i if in info into is it its just know last let like look made make
    me more my need new next no not now of off ok okay on one only or our out over please
    really right same see send set should so some start still take test thanks thank that the
    their them then there these they this those time to today try two up us use want was we
    welcome well were what when where which who why will with work would yes yet you your
    account app booking contact demo feedback flow flows form home menu message news order
    page profile register reminder sign signup status support survey update
"""
COMMON_WORDS = frozenset(_COMMON_WORDS_TEXT.split())


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of message text between markup: its words, and the word runs it sets apart."""

    words: tuple[str, ...]
    set_apart: frozenset[tuple[str, ...]]


def message_pieces(text: str) -> Iterator[Piece]:
    """The pieces of a message's text (as Slack sends it, entities encoded) that may name flows."""
    position = 0
    clipped = text[:MAX_TEXT_CHARS]
    for markup in _SLACK_MARKUP.finditer(clipped):
        yield from _pieces(clipped[position : markup.start()])
        target, label = markup.groups()
        # Mentions, channels, user groups and dates (<@…>, <#…>, <!…>) name Slack things,
        # not flows; a link's label is text a person wrote.
        if label and not target.startswith(("!", "@", "#")):
            yield from _pieces(label)
        position = markup.end()
    yield from _pieces(clipped[position:])


def _pieces(encoded: str) -> Iterator[Piece]:
    # Entities are decoded after the markup is cut out, so that a typed "&lt;" never looks
    # like the start of markup.
    for stretch in _outside_links(html.unescape(encoded)):
        found = words(stretch)
        if found:
            set_apart = frozenset(
                words(next(group for group in span.groups() if group is not None))
                for span in _SET_APART.finditer(stretch)
            )
            yield Piece(found, set_apart)


def _outside_links(text: str) -> list[str]:
    """The stretches of `text` between its bare links."""
    stretches: list[str] = []
    current: list[str] = []
    for token in _WHITESPACE.split(text):
        if _is_link(token):
            stretches.append("".join(current))
            current = []
        else:
            current.append(token)
    stretches.append("".join(current))
    return stretches


def _is_link(token: str) -> bool:
    return (
        "://" in token
        or token[:4].lower() == "www."
        or ("/" in token and _DOMAIN_PATH.search(token) is not None)
    )


def is_weak_name(
    name: tuple[str, ...], names_holding: Callable[[str], int], flow_count: int
) -> bool:
    """Whether a normalised name is too likely to be ordinary words to find unless set apart.

    Weak: fewer than MIN_NAME_CHARS letters and digits; only numbers; only COMMON_WORDS; or a
    single word that many of the space's names hold (`names_holding` counts them), such as
    "Survey" in a space of surveys.
    """
    if sum(len(word) for word in name) < MIN_NAME_CHARS:
        return True
    if all(is_number(word) for word in name) or all(word in COMMON_WORDS for word in name):
        return True
    frequent = max(FREQUENT_MIN_NAMES, FREQUENT_SHARE * flow_count)
    return len(name) == 1 and names_holding(name[0]) >= frequent
