"""Log lines: text for terminals or one JSON object per line, with the request's context.

Every record, the bot's and its libraries' (Bolt, the Slack SDK, aiohttp, redis), goes
through the one handler on the root logger, so all of them come out in the same format, with
the same context and the same redaction of secrets (`bot.redaction`).

The context is a set of fields about the request being served (team, channel, user, flow,
space, CAMS RequestId) kept in a ContextVar: `bind` sets fields for the rest of the current
task, `log_context` for a block; tasks started meanwhile inherit them, as asyncio copies the
context into every new task. A record also takes any of these fields given as `extra`.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from types import MappingProxyType, TracebackType
from typing import TextIO

from bot.config import ConfigError, env_str
from bot.redaction import redact

FORMAT_VARIABLE = "LOG_FORMAT"
# The context fields, in the order lines show them.
FIELDS = ("team", "channel", "user", "flow", "space", "request_id")
# Bounds: a field holds an ID, a message is a sentence, an error's traceback a screenful or
# two. Longer ones are cut, keeping the end of a traceback, where the error is.
MAX_FIELD_CHARS = 128
MAX_MESSAGE_CHARS = 8192
MAX_ERROR_MESSAGE_CHARS = 2048
MAX_TRACEBACK_CHARS = 8192
# The logger Bolt's framework writes to (given to AsyncApp).
BOLT_LOGGER = "bot.slack.bolt"
# Libraries whose DEBUG lines carry whole payloads: Slack events, API requests and answers.
PAYLOAD_LOGGERS = ("slack_bolt", "slack_sdk", BOLT_LOGGER)

# ASCII only: a line any pipeline reads, whatever the stream's encoding. Made once, as
# json.dumps would make an encoder for every line given any option.
_encode = json.JSONEncoder(ensure_ascii=True, default=str).encode
_FIELD_SET = frozenset(FIELDS)
_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "log_context", default=MappingProxyType({})
)


class LogFormat(StrEnum):
    """How log lines are written."""

    TEXT = "text"
    JSON = "json"


def log_format(env: Mapping[str, str]) -> LogFormat:
    """LOG_FORMAT: `text` (the default) or `json`; ConfigError naming it otherwise."""
    raw = env_str(env, FORMAT_VARIABLE)
    if raw is None:
        return LogFormat.TEXT
    try:
        return LogFormat(raw.lower())
    except ValueError:
        raise ConfigError(FORMAT_VARIABLE, f"must be text or json, got {raw!r}") from None


def bind(**fields: object) -> None:
    """Add `fields` to the context of the rest of the current task; None removes a field.

    Meant where a task starts serving a request (each Slack request runs in a task of its
    own); elsewhere `log_context` keeps the fields to a block.
    """
    _context.set(_merged(_context.get(), fields))


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to the context inside the block (and tasks started in it)."""
    token = _context.set(_merged(_context.get(), fields))
    try:
        yield
    finally:
        _context.reset(token)


def background(**fields: object) -> contextvars.Context:
    """A copy of the current context whose log fields are `fields` alone, for a task a
    request starts but does not own (pass it as create_task's `context`): a refresh shared by
    everyone must not log as the person whose ask happened to start it."""
    context = contextvars.copy_context()
    context.run(_context.set, _merged({}, fields))
    return context


def current_context() -> Mapping[str, str]:
    """The context fields set here and now."""
    return _context.get()


def _merged(current: Mapping[str, str], fields: Mapping[str, object]) -> dict[str, str]:
    if not _FIELD_SET.issuperset(fields):
        unknown = ", ".join(sorted(set(fields) - _FIELD_SET))
        raise TypeError(f"not a log context field: {unknown}")
    merged = dict(current)
    for name, value in fields.items():
        if value is None or value == "":
            merged.pop(name, None)
        else:
            # Kept as given: masked and bounded only when a line is written (_record_context),
            # since most requests write none and binding is on every request's path.
            merged[name] = str(value)
    return merged


def _field(value: object) -> str:
    # A person may type anything where a flow or a space goes.
    return _bounded(redact(str(value)), MAX_FIELD_CHARS)


def _record_context(record: logging.LogRecord) -> dict[str, str]:
    """The context at the logging call, with the fields the record was given as `extra`,
    in the order of FIELDS."""
    context = _context.get()
    attributes = record.__dict__
    fields: dict[str, str] = {}
    for name in FIELDS:
        extra = attributes.get(name)
        if extra is not None and extra != "":
            fields[name] = _field(extra)
        elif name in context:
            fields[name] = _field(context[name])
    return fields


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception as exc:  # a bad format string must not cost the line
        return f"{record.msg!r} (its arguments did not fit: {type(exc).__name__})"


def _bounded(text: str, most: int, *, keep_end: bool = False) -> str:
    if len(text) <= most:
        return text
    cut = len(text) - most
    if keep_end:
        return f"[{cut} characters cut] " + text[-most:]
    return text[:most] + f" [{cut} characters cut]"


def _error(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None],
) -> dict[str, str]:
    kind, error, trace = exc_info
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    try:
        text = str(error)
    except Exception:  # an exception whose str fails still has a type and a traceback
        text = "(its message cannot be shown)"
    lines = "".join(traceback.format_exception(kind, error, trace))
    return {
        "type": name,
        "message": _bounded(redact(text), MAX_ERROR_MESSAGE_CHARS),
        "traceback": _bounded(redact(lines.rstrip()), MAX_TRACEBACK_CHARS, keep_end=True),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, error."""

    def __init__(self) -> None:
        super().__init__()
        # The time to the second is the same for every record in it: made once a second.
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, secrets masked."""
        document: dict[str, object] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": _bounded(redact(_message(record)), MAX_MESSAGE_CHARS),
        }
        document.update(_record_context(record))
        exc_info = record.exc_info
        if exc_info is not None and exc_info[0] is not None:
            document["error"] = _error(exc_info)
        if record.stack_info:
            document["stack"] = _bounded(
                redact(record.stack_info), MAX_TRACEBACK_CHARS, keep_end=True
            )
        return _encode(document)

    def _time(self, created: float) -> str:
        """RFC 3339 in UTC with milliseconds: 2025-01-31T12:34:56.789Z."""
        second = int(created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int((created - second) * 1000):03d}Z"


class TextFormatter(logging.Formatter):
    """`time LEVEL logger: message [team=T1 user=U2 flow=123]`, a traceback below it.

    A record is its first line and its traceback's: control characters in any field (line
    breaks above all) are escaped, so that nothing a request carries can start a line that
    reads as a record of its own.
    """

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as text for a terminal, secrets masked, control characters escaped."""
        message = escape_controls(redact(_message(record)))
        line = (
            f"{self.formatTime(record)} {escape_controls(record.levelname)} "
            f"{escape_controls(record.name)}: {_bounded(message, MAX_MESSAGE_CHARS)}"
        )
        fields = _record_context(record)
        if fields:
            line += (
                " ["
                + " ".join(f"{name}={escape_controls(value)}" for name, value in fields.items())
                + "]"
            )
        exc_info = record.exc_info
        if exc_info is not None and exc_info[0] is not None and exc_info[1] is not None:
            trace = redact("\n".join(_trace_lines(exc_info[1], exc_info[2])))
            line += "\n" + _bounded(trace, MAX_TRACEBACK_CHARS, keep_end=True)
        if record.stack_info:
            stack = "\n".join(escape_controls(part) for part in record.stack_info.splitlines())
            line += "\n" + _bounded(redact(stack), MAX_TRACEBACK_CHARS, keep_end=True)
        return line


# C0 and C1 controls, DEL, and the two characters some readers take for a line break.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED_CONTROLS = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CAUSE = "The above exception was the direct cause of the following exception:"
_CONTEXT = "During handling of the above exception, another exception occurred:"


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape: `\\n`, `\\x1b`, `\\u2028`."""
    return _CONTROLS.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED_CONTROLS.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _trace_lines(error: BaseException, trace: TracebackType | None) -> list[str]:
    """The traceback of `error` and what it was chained to, as Python prints it, but with
    each exception's message (which may quote a request) escaped onto its own line."""
    # Outermost first, each with the sentence that leads from it to the one it was chained to.
    chain: list[tuple[str | None, BaseException, TracebackType | None]] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        link, chained = None, None
        if current.__cause__ is not None:
            link, chained = _CAUSE, current.__cause__
        elif current.__context__ is not None and not current.__suppress_context__:
            link, chained = _CONTEXT, current.__context__
        frames = trace if current is error else current.__traceback__
        chain.append((link, current, frames))
        current = chained
    lines: list[str] = []
    for link, exception, frames in reversed(chain):
        if link is not None and lines:
            lines += ["", link, ""]
        lines += _exception_lines(exception, frames)
    return lines


def _exception_lines(error: BaseException, trace: TracebackType | None) -> list[str]:
    lines: list[str] = []
    if trace is not None:
        lines.append("Traceback (most recent call last):")
        for frame in traceback.extract_tb(trace).format():
            lines += (escape_controls(part) for part in frame.rstrip("\n").split("\n"))
    lines.append(_exception_line(error))
    notes = getattr(error, "__notes__", None)
    if isinstance(notes, list):
        lines += (escape_controls(str(note)) for note in notes)
    if isinstance(error, BaseExceptionGroup):
        for number, inner in enumerate(error.exceptions, 1):
            lines.append(f"  sub-exception {number} of {len(error.exceptions)}:")
            lines += (f"    {part}" for part in _trace_lines(inner, inner.__traceback__))
    return lines


def _exception_line(error: BaseException) -> str:
    kind = type(error)
    name = (
        kind.__qualname__
        if kind.__module__ in ("builtins", "__main__")
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    try:
        text = str(error)
    except Exception:  # an exception whose str fails still has a type and a traceback
        text = "(its message cannot be shown)"
    return f"{name}: {escape_controls(text)}" if text else name


class LibraryGuard(logging.Filter):
    """Keeps request bodies that libraries would log out of the logs.

    The Slack SDK and Bolt log whole payloads at DEBUG (events received, API requests and
    answers), so their DEBUG lines are dropped whatever LOG_LEVEL says; and the few lines
    above DEBUG in which Bolt puts a request's body are cut to what identifies the request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a payload dump; a Bolt line holding a body is rewritten without it."""
        if record.levelno < logging.INFO and record.name.startswith(PAYLOAD_LOGGERS):
            return False
        if record.name == "slack_bolt.RequestVerification" or (
            isinstance(record.msg, str) and record.msg.startswith(_BOLT_SIGNATURE_LINE)
        ):
            # Bolt's own check (off in this bot) logs the signature, timestamp and body.
            _replace(record, "invalid request signature (signature, timestamp and body withheld)")
        elif isinstance(record.msg, str) and record.msg.startswith(_BOLT_CODE_LINE):
            # The code is a credential until exchanged, and it is whatever the browser sent.
            error = record.msg.rpartition(" - error: ")[2]
            _replace(record, f"{_BOLT_CODE_LINE} (the code withheld) - error: {error}")
        elif isinstance(record.msg, str) and record.msg.startswith(_BOLT_BODY_LINES):
            identity = ", ".join(f"{key}: {value}" for key, value in _IDENTITY.findall(record.msg))
            first = record.msg.split("(", 1)[0].rstrip()
            _replace(
                record, f"{first} ({identity or 'unidentified'}; the rest of its body withheld)"
            )
        return True


# Bolt's lines above DEBUG that hold a request's body (or the user input in it).
_BOLT_SIGNATURE_LINE = "Invalid request signature detected"
_BOLT_BODY_LINES = ("Unhandled request (", "A global middleware (")
# Bolt's warning when Slack refuses an install's code, with the code in it.
_BOLT_CODE_LINE = "Failed to fetch oauth.v2.access result"
# The fields of a body that identify a request without holding anything a person typed.
_IDENTITY = re.compile(r"'(type|command|callback_id|action_id|block_id)': '([\w./:-]{1,100})'")


def _replace(record: logging.LogRecord, message: str) -> None:
    record.msg = message
    record.args = ()


def make_handler(
    fmt: LogFormat, *, stream: TextIO | None = None, path: str | None = None
) -> logging.Handler:
    """A handler writing `fmt` lines to `stream` (default stderr), or appending to `path`."""
    handler: logging.Handler
    if path is not None:
        handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt is LogFormat.JSON else TextFormatter())
    handler.addFilter(LibraryGuard())
    return handler


def configure(
    level: str, fmt: LogFormat, *, stream: TextIO | None = None, path: str | None = None
) -> logging.Handler:
    """Make one handler (see make_handler) the root logger's only one, at `level`.

    Warnings go through it too, and with JSON so do uncaught exceptions: nothing the
    process writes to its log stream is then other than one JSON object per line.
    """
    handler = make_handler(fmt, stream=stream, path=path)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    if fmt is LogFormat.JSON:
        sys.excepthook = _log_uncaught
        threading.excepthook = _log_uncaught_in_thread
    return handler


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    logging.getLogger("bot").critical("uncaught exception", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    name = args.thread.name if args.thread is not None else "?"
    logging.getLogger("bot").critical(
        "uncaught exception in thread %s",
        name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
