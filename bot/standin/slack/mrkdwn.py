"""Slack's mrkdwn as a terminal can show it: styles, code, links, mentions, emoji and dates.

Slack keeps `<...>` for its own markup and sends &, <, > in text as `&amp; &lt; &gt;`. Code
spans and markup are rendered first and held aside, so that nothing inside them is taken as
formatting; then emoji shortcodes become characters, `*bold*`, `_italic_` and `~strike~` are
found in what is left, and the entities are decoded last. Bold, italic, strike and code
are ANSI styles on a terminal that shows them, and plain text otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

_MARKUP = re.compile(r"<([^<>]*)>")
_CODE = re.compile(r"```(.+?)```|`([^`\n]+)`", re.DOTALL)
# Private-use characters stand for what is held aside and for style boundaries while the
# styles are found; any in the input are replaced first so that they cannot forge one.
_HOLD = "\ue000"
_HELD = re.compile(f"{_HOLD}(\\d+){_HOLD}")


def _style(marker: str) -> re.Pattern[str]:
    """Slack's rule: the marker opens after no letter or digit and before a non-blank, and
    closes after a non-blank and before no letter or digit, on one line (`snake_case` stays)."""
    m = re.escape(marker)
    return re.compile(rf"(?<!\w){m}(?=\S)([^\n]*?\S){m}(?!\w)")


# Each style's pattern, and the characters that mark where it starts and ends.
_STYLES = (
    (_style("*"), "\ue001", "\ue002"),
    (_style("_"), "\ue003", "\ue004"),
    (_style("~"), "\ue005", "\ue006"),
)
_CODE_ON, _CODE_OFF = "\ue007", "\ue008"
_RESERVED = re.compile("[\ue000-\ue008]")
_ANSI = str.maketrans(
    {
        "\ue001": "\x1b[1m",
        "\ue002": "\x1b[22m",
        "\ue003": "\x1b[3m",
        "\ue004": "\x1b[23m",
        "\ue005": "\x1b[9m",
        "\ue006": "\x1b[29m",
        _CODE_ON: "\x1b[36m",
        _CODE_OFF: "\x1b[39m",
    }
)
_PLAIN = str.maketrans(dict.fromkeys(range(0xE001, 0xE009)))
_SHORTCODE = re.compile(r":([a-z0-9_+-]+):")
# The shortcodes the bot sends, and common ones a person might; others stay as typed.
EMOJI = {
    "warning": "\u26a0\ufe0f",
    "hourglass_flowing_sand": "\u23f3",
    "hourglass": "\u231b",
    "white_check_mark": "\u2705",
    "heavy_check_mark": "\u2714\ufe0f",
    "x": "\u274c",
    "no_entry": "\u26d4",
    "no_entry_sign": "\U0001f6ab",
    "information_source": "\u2139\ufe0f",
    "exclamation": "\u2757",
    "question": "\u2753",
    "rotating_light": "\U0001f6a8",
    "lock": "\U0001f512",
    "key": "\U0001f511",
    "link": "\U0001f517",
    "mag": "\U0001f50d",
    "eyes": "\U0001f440",
    "bulb": "\U0001f4a1",
    "memo": "\U0001f4dd",
    "gear": "\u2699\ufe0f",
    "construction": "\U0001f6a7",
    "octagonal_sign": "\U0001f6d1",
    "snail": "\U0001f40c",
    "new": "\U0001f195",
    "wastebasket": "\U0001f5d1\ufe0f",
    "stopwatch": "\u23f1\ufe0f",
    "rocket": "\U0001f680",
    "tada": "\U0001f389",
    "sparkles": "\u2728",
    "fire": "\U0001f525",
    "wave": "\U0001f44b",
    "+1": "\U0001f44d",
    "thumbsup": "\U0001f44d",
    "-1": "\U0001f44e",
    "thumbsdown": "\U0001f44e",
    "pray": "\U0001f64f",
    "smile": "\U0001f604",
    "slightly_smiling_face": "\U0001f642",
    "thinking_face": "\U0001f914",
}
_ENTITY = re.compile(r"&(lt|gt|amp);")
_ENTITIES = {"lt": "<", "gt": ">", "amp": "&"}
_DATE_TOKEN = re.compile(r"\{(\w+)\}")
_AGO_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


@dataclass(frozen=True, slots=True)
class Viewer:
    """The person reading: their time zone and clock (None means this machine's), the names
    their client knows by user or channel ID, and whether their terminal shows ANSI styles."""

    tz: tzinfo | None = None
    now: datetime | None = None
    names: Mapping[str, str] = field(default_factory=dict)
    ansi: bool = False

    def local(self, epoch: float) -> datetime:
        """`epoch` seconds as a time in the viewer's zone."""
        return datetime.fromtimestamp(epoch, UTC).astimezone(self.tz)

    def today(self) -> datetime:
        """The viewer's current time, in the viewer's zone."""
        return (self.now or datetime.now(UTC)).astimezone(self.tz)


LOCAL_VIEWER = Viewer()


def decode_entities(text: str) -> str:
    """`&lt; &gt; &amp;` back to `< > &`, in one pass so `&amp;lt;` stays `&lt;`."""
    return _ENTITY.sub(lambda match: _ENTITIES[match.group(1)], text)


def emojize(text: str) -> str:
    """Known emoji shortcodes (`:warning:`) as the characters they stand for."""
    return _SHORTCODE.sub(lambda match: EMOJI.get(match.group(1), match.group(0)), text)


def to_text(mrkdwn: str, viewer: Viewer = LOCAL_VIEWER) -> str:
    """`mrkdwn` as a terminal shows it.

    Styles without their markers (ANSI when `viewer.ansi`), `label (url)`, `@name` for a user
    the viewer knows (else `@U123`), emoji as characters, dates in the viewer's zone.
    """
    held: list[str] = []

    def hold(rendered: str) -> str:
        held.append(rendered)
        return f"{_HOLD}{len(held) - 1}{_HOLD}"

    def restore(text: str) -> str:
        # Held pieces may hold others (a code span in a link's label).
        return _HELD.sub(lambda match: restore(held[int(match.group(1))]), text)

    text = _RESERVED.sub("\ufffd", mrkdwn)
    text = _CODE.sub(lambda match: hold(_code(match)), text)
    text = _MARKUP.sub(lambda match: hold(_markup(match.group(1), viewer)), text)
    text = emojize(text)
    for pattern, on, off in _STYLES:
        text = pattern.sub(rf"{on}\1{off}", text)
    text = restore(decode_entities(text))
    return text.translate(_ANSI if viewer.ansi else _PLAIN)


def format_date(epoch: float, template: str, viewer: Viewer = LOCAL_VIEWER) -> str:
    """Fill Slack's date tokens (`{date_short_pretty} at {time}`, ...) for `viewer`.

    Raises ValueError for a token Slack does not define, so the caller can use the fallback.
    """
    when = viewer.local(epoch)
    today = viewer.today()

    def fill(match: re.Match[str]) -> str:
        return _date_token(match.group(1), when, today)

    return _DATE_TOKEN.sub(fill, decode_entities(template))


def _code(match: re.Match[str]) -> str:
    # Nothing inside code is formatting, markup or emoji; only the entities are decoded.
    content = match.group(1) if match.group(1) is not None else match.group(2)
    return f"{_CODE_ON}{decode_entities(content)}{_CODE_OFF}"


def _markup(inner: str, viewer: Viewer) -> str:
    target, _, label = inner.partition("|")
    label = decode_entities(label)
    if target.startswith("!date^"):
        return _date(target, label, viewer)
    if target.startswith("!"):
        special = target[1:].split("^")[0]
        return label or f"@{special}"
    if target.startswith("@"):
        name = viewer.names.get(target[1:]) or label or target[1:]
        return f"@{name}"
    if target.startswith("#"):
        channel = viewer.names.get(target[1:]) or label
        return f"#{channel}" if channel else target
    url = decode_entities(target)
    return f"{label} ({url})" if label and label != url else url


def _date(target: str, fallback: str, viewer: Viewer) -> str:
    parts = target.split("^")
    try:
        shown = format_date(float(parts[1]), parts[2], viewer)
    except (IndexError, ValueError, OverflowError, OSError):
        return fallback
    link = decode_entities(parts[3]) if len(parts) > 3 else ""
    return f"{shown} ({link})" if link else shown


def _date_token(token: str, when: datetime, today: datetime) -> str:
    pretty = _relative_day(when, today)
    day, month, weekday, year = when.day, when.strftime("%B"), when.strftime("%A"), when.year
    formats = {
        "date_num": when.strftime("%Y-%m-%d"),
        "date": f"{day} {month} {year}",
        "date_short": f"{weekday[:3]} {day} {month[:3]} {year}",
        "date_long": f"{weekday} {day} {month} {year}",
        "time": when.strftime("%H:%M %Z"),
        "time_secs": when.strftime("%H:%M:%S %Z"),
        "ago": _ago(when, today),
    }
    for style in ("date", "date_short", "date_long"):
        formats[f"{style}_pretty"] = pretty or formats[style]
    if token not in formats:
        raise ValueError(f"unknown date token {{{token}}}")
    return formats[token]


def _relative_day(when: datetime, today: datetime) -> str | None:
    days = (when.date() - today.date()).days
    return {-1: "yesterday", 0: "today", 1: "tomorrow"}.get(days)


def _ago(when: datetime, now: datetime) -> str:
    # Between instants: two times in one zone subtract as wall-clock times, and a clock
    # change between them would add or lose an hour.
    elapsed = now.timestamp() - when.timestamp()
    seconds = abs(elapsed)
    for unit, size in _AGO_UNITS:
        if seconds >= size:
            count = int(seconds // size)
            phrase = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"{phrase} ago" if elapsed >= 0 else f"in {phrase}"
    return "just now"
