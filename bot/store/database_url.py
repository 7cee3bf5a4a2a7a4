"""A database URL, read without SQLAlchemy: the bot serves on its drivers alone (see
bot.store.database), and loads SQLAlchemy only to migrate or for Slack installs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from urllib.parse import quote, urlencode

from yarl import URL

from bot.errors import FlowpreviewError

SQLITE = "sqlite+aiosqlite"
POSTGRESQL = "postgresql+asyncpg"
HIDDEN = "***"


PORT_RANGE = "the port must be from 1 to 65535"


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
        `scheme:///path`; UnreadableUrlError if it cannot be."""
        try:
            url = URL(raw)
            port = url.explicit_port
        except (ValueError, TypeError) as exc:
            out_of_range = "out of range" in str(exc)
            raise UnreadableUrlError(PORT_RANGE if out_of_range else "not a URL") from None
        if not url.scheme:
            raise UnreadableUrlError("no scheme")
        database: str | None
        if url.scheme.lower() == SQLITE:
            # sqlite+aiosqlite:///relative or ////absolute: the path is what follows the third /.
            database = raw.split("://", 1)[1].split("?", 1)[0]
            database = database[1:] if database.startswith("/") else database
        else:
            database = url.path.lstrip("/")
        return cls(
            drivername=url.scheme.lower(),
            database=database or None,
            host=url.host or None,
            port=port,
            username=url.user or None,
            password=url.password or None,
            query=MappingProxyType(dict(url.query)),
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
