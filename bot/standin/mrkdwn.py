"""Slack's mrkdwn turned into plain terminal text: links, mentions, dates and entities.

Slack keeps `<...>` for its own markup and sends &, <, > in text as `&amp; &lt; &gt;`, so the
markup is split out first and the entities are decoded in each piece afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

_MARKUP = re.compile(r"<([^<>]*)>")
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
    """The person reading: their time zone and clock (None means this machine's)."""

    tz: tzinfo | None = None
    now: datetime | None = None

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


def to_text(mrkdwn: str, viewer: Viewer = LOCAL_VIEWER) -> str:
    """`mrkdwn` as a terminal shows it: `label (url)`, `@U123`, dates in the viewer's zone."""
    pieces: list[str] = []
    position = 0
    for match in _MARKUP.finditer(mrkdwn):
        pieces.append(decode_entities(mrkdwn[position : match.start()]))
        pieces.append(_markup(match.group(1), viewer))
        position = match.end()
    pieces.append(decode_entities(mrkdwn[position:]))
    return "".join(pieces)


def format_date(epoch: float, template: str, viewer: Viewer = LOCAL_VIEWER) -> str:
    """Fill Slack's date tokens (`{date_short_pretty} at {time}`, ...) for `viewer`.

    Raises ValueError for a token Slack does not define, so the caller can use the fallback.
    """
    when = viewer.local(epoch)
    today = viewer.today()

    def fill(match: re.Match[str]) -> str:
        return _date_token(match.group(1), when, today)

    return _DATE_TOKEN.sub(fill, decode_entities(template))


def _markup(inner: str, viewer: Viewer) -> str:
    target, _, label = inner.partition("|")
    label = decode_entities(label)
    if target.startswith("!date^"):
        return _date(target, label, viewer)
    if target.startswith("!"):
        special = target[1:].split("^")[0]
        return label or f"@{special}"
    if target.startswith(("@", "#")):
        return f"{target[0]}{label}" if label else target
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
    elapsed = now - when
    seconds = abs(elapsed.total_seconds())
    for unit, size in _AGO_UNITS:
        if seconds >= size:
            count = int(seconds // size)
            phrase = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"{phrase} ago" if elapsed >= timedelta(0) else f"in {phrase}"
    return "just now"
