"""DATABASE_URL (or DATABASE_PATH), AUDIT_RETENTION_DAYS and AUDIT_QUEUE_MAX, read once at
start-up."""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.config import ConfigError, Secret, env_int, env_str
from bot.store.database_url import (
    PORT_RANGE,
    POSTGRESQL,
    SQLITE,
    DatabaseUrl,
    UnreadableUrlError,
)

# Hosting platforms hand out libpq URLs; they mean PostgreSQL through our driver.
_POSTGRESQL_ALIASES = ("postgresql", "postgres", POSTGRESQL)
DEFAULT_PATH = "flowpreview.sqlite3"
DEFAULT_RETENTION_DAYS = 90
# A century: beyond it the cut-off date would fall before year 1 and overflow.
MAX_RETENTION_DAYS = 36_500
# Audit records waiting for the database at most (bot.store.audit.MAX_QUEUE): a few hundred
# bytes each, so the default holds a few megabytes through an outage.
DEFAULT_AUDIT_QUEUE_MAX = 10_000
# Fewer would drop records in an ordinary burst, as the writer lets records gather for a moment
# before it writes them; more would hold hundreds of megabytes through an outage.
MIN_AUDIT_QUEUE_MAX = 100
MAX_AUDIT_QUEUE_MAX = 1_000_000
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?=://)")
_USAGE = "use sqlite+aiosqlite:///PATH or postgresql://USER:PASSWORD@HOST[:PORT]/DATABASE"
# PostgreSQL's driver comes with an extra, so that SQLite users need not install it.
_DRIVER = "asyncpg"
# What a PostgreSQL URL's query may say: TLS (libpq's sslmode, or ssl), and how many prepared
# statements each connection keeps (0 behind PgBouncer in transaction mode).
STATEMENT_CACHE = "prepared_statement_cache_size"
QUERY_PARAMETERS = ("ssl", "sslmode", STATEMENT_CACHE)


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """Which database, how long audit records are kept, and how many may wait to be written."""

    url: DatabaseUrl
    retention_days: int = DEFAULT_RETENTION_DAYS
    audit_queue_max: int = DEFAULT_AUDIT_QUEUE_MAX
    # Held so that log redaction masks the password wherever a library might print it.
    password: Secret | None = None

    @property
    def is_sqlite(self) -> bool:
        """Whether the database is a SQLite file (else PostgreSQL)."""
        return self.url.drivername == SQLITE

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file, or None for PostgreSQL."""
        return Path(self.url.database or "") if self.is_sqlite else None

    def describe(self) -> str:
        """The database for a start-up log line, without its password."""
        return self.url.render_as_string(hide_password=True)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StoreSettings:
        """DATABASE_URL when set, else the SQLite file DATABASE_PATH (default flowpreview.sqlite3
        in the working directory), AUDIT_RETENTION_DAYS and AUDIT_QUEUE_MAX; raise ConfigError
        naming the variable, never its password."""
        raw = env_str(env, "DATABASE_URL")
        url = (
            _sqlite_url(env_str(env, "DATABASE_PATH") or DEFAULT_PATH) if raw is None else _url(raw)
        )
        retention = env_int(env, "AUDIT_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
        if retention > MAX_RETENTION_DAYS:
            raise ConfigError("AUDIT_RETENTION_DAYS", f"must be at most {MAX_RETENTION_DAYS}")
        queue_max = env_int(
            env, "AUDIT_QUEUE_MAX", DEFAULT_AUDIT_QUEUE_MAX, minimum=MIN_AUDIT_QUEUE_MAX
        )
        if queue_max > MAX_AUDIT_QUEUE_MAX:
            raise ConfigError("AUDIT_QUEUE_MAX", f"must be at most {MAX_AUDIT_QUEUE_MAX}")
        password = Secret(url.password) if url.password else None
        return cls(url=url, retention_days=retention, audit_queue_max=queue_max, password=password)


def _url(raw: str) -> DatabaseUrl:
    scheme = _SCHEME.match(raw)
    if scheme is None:
        raise ConfigError("DATABASE_URL", f"not a database URL; {_USAGE}")
    # Only the scheme is ever echoed: the rest may hold a password.
    if scheme[0].lower() not in (SQLITE, *_POSTGRESQL_ALIASES):
        raise ConfigError("DATABASE_URL", f"unsupported scheme {scheme[0]!r}; {_USAGE}")
    try:
        url = DatabaseUrl.parse(raw)
        port = url.port
    except UnreadableUrlError as exc:
        if str(exc) == PORT_RANGE:
            raise ConfigError("DATABASE_URL", PORT_RANGE) from None
        raise ConfigError("DATABASE_URL", f"cannot be read as a URL; {_USAGE}") from None
    if url.drivername.lower() == SQLITE:
        if url.host or url.username or url.port:
            raise ConfigError(
                "DATABASE_URL", "a SQLite URL takes no host: sqlite+aiosqlite:///PATH"
            )
        return _sqlite_url(url.database or "", variable="DATABASE_URL")
    if not url.host:
        raise ConfigError("DATABASE_URL", f"names no host; {_USAGE}")
    if port is not None and not 0 < port <= 65535:
        raise ConfigError("DATABASE_URL", PORT_RANGE)
    if not url.database:
        raise ConfigError("DATABASE_URL", f"names no database; {_USAGE}")
    _require_driver()
    query = dict(url.query)
    # libpq's sslmode is asyncpg's ssl, with the same values.
    if "sslmode" in query:
        query["ssl"] = query.pop("sslmode")
    unknown = sorted(set(query) - set(QUERY_PARAMETERS))
    if unknown:
        # Named, never their values: those may be anything the URL holds.
        raise ConfigError(
            "DATABASE_URL",
            f"takes no parameter {', '.join(unknown)}; it takes {', '.join(QUERY_PARAMETERS)}",
        )
    cache_size = query.get(STATEMENT_CACHE)
    if cache_size is not None and not cache_size.isdigit():
        raise ConfigError("DATABASE_URL", f"{STATEMENT_CACHE} must be a whole number")
    return url.set(drivername=POSTGRESQL, query=query)


def _require_driver() -> None:
    # Imported now rather than found: a driver that is present but cannot load would
    # otherwise fail later, with a traceback, when the engine is made.
    try:
        importlib.import_module(_DRIVER)
    except ImportError:
        raise ConfigError(
            "DATABASE_URL",
            f"names PostgreSQL, whose driver ({_DRIVER}) is missing: install the postgres extra "
            "(pip install '.[postgres]')",
        ) from None


def _sqlite_url(path: str, *, variable: str = "DATABASE_PATH") -> DatabaseUrl:
    if not path or path == ":memory:":
        # Each pooled connection would get a database of its own, and all of it lost at exit.
        raise ConfigError(variable, "needs a file path, not an in-memory database")
    # Absolute, so that start-up logs say where the file is whatever the working directory.
    return DatabaseUrl.sqlite(Path(path).expanduser().absolute())
