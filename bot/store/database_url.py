"""A database URL, read without SQLAlchemy: the bot serves on its drivers alone (see
bot.store.database), and loads SQLAlchemy only to migrate or for Slack installs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import parse_qsl, quote, unquote, urlencode

from bot.errors import FlowpreviewError

SQLITE = "sqlite+aiosqlite"
POSTGRESQL = "postgresql+asyncpg"
HIDDEN = "***"


PORT_RANGE = "the port must be from 1 to 65535"
MAX_PORT = 65535
# SQLAlchemy's own grammar for a URL (sqlalchemy.engine.url._parse_url), so that every URL it
# read is read the same: the password runs to the last @ before the host.
_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:
        (?P<username>[^:/]*)
        (?::(?P<password>[^@]*))?
    @)?
    (?:
        (?:
            \[(?P<ipv6host>[^/?]+)\] |
            (?P<ipv4host>[^/:?]+)
        )?
        (?::(?P<port>[^/?]*))?
    )?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.VERBOSE,
)


class UnreadableUrlError(FlowpreviewError):
    """The text is not a URL this module can read; the message says why, never repeating it."""


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """The parts of a SQLAlchemy-style database URL the bot uses.

    `str()` hides the password, as SQLAlchemy's URL does, so that a URL printed or logged by
    mistake never shows it.
    """

    drivername: str
    database: str | None = None
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    query: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def parse(cls, raw: str) -> DatabaseUrl:
        """`raw` read as `scheme://[user[:password]@]host[:port]/database[?query]`, or a SQLite
        `scheme:///path`, as SQLAlchemy reads it (a password may hold `/`, `?` or `#`; `%xx`
        escapes are decoded); UnreadableUrlError if it cannot be."""
        found = _URL.fullmatch(raw.strip())
        if found is None:
            raise UnreadableUrlError("not a URL")
        port_text = found["port"]
        port = None
        if port_text:
            if not port_text.isdigit():
                raise UnreadableUrlError("not a URL")
            port = int(port_text)
            if not 0 < port <= MAX_PORT:
                raise UnreadableUrlError(PORT_RANGE)
        username, password = found["username"], found["password"]
        return cls(
            drivername=found["name"].lower(),
            database=found["database"] or None,
            host=found["ipv6host"] or found["ipv4host"] or None,
            port=port,
            username=unquote(username) if username else None,
            password=unquote(password) if password else None,
            query=MappingProxyType(dict(parse_qsl(found["query"] or ""))),
        )

    @classmethod
    def sqlite(cls, path: Path) -> DatabaseUrl:
        """The URL of the SQLite file at `path`."""
        return cls(drivername=SQLITE, database=str(path))

    def set(self, *, drivername: str, query: Mapping[str, str]) -> DatabaseUrl:
        """This URL with another driver and query."""
        return DatabaseUrl(
            drivername,
            self.database,
            self.host,
            self.port,
            self.username,
            self.password,
            MappingProxyType(dict(query)),
        )

    def render_as_string(self, *, hide_password: bool = True) -> str:
        """The URL as text; its password as *** unless `hide_password` is False."""
        if self.drivername == SQLITE:
            return f"{SQLITE}:///{self.database or ''}"
        who = ""
        if self.username is not None:
            who = quote(self.username, safe="")
            if self.password is not None:
                secret = HIDDEN if hide_password else quote(self.password, safe="")
                who += f":{secret}"
            who += "@"
        host = f"[{self.host}]" if self.host and ":" in self.host else self.host or ""
        port = f":{self.port}" if self.port is not None else ""
        query = f"?{urlencode(dict(self.query))}" if self.query else ""
        return f"{self.drivername}://{who}{host}{port}/{quote(self.database or '')}{query}"

    def __str__(self) -> str:
        return self.render_as_string(hide_password=True)
