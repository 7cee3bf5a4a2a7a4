"""DATABASE_URL, DATABASE_PATH, AUDIT_RETENTION_DAYS and AUDIT_QUEUE_MAX: what is accepted,
and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.redaction import redact
from bot.store.settings import StoreSettings
from tests.shared.store import PASSWORD


def test_the_default_is_a_sqlite_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = StoreSettings.from_env({})

    assert settings.is_sqlite
    assert settings.sqlite_path == tmp_path / "flowpreview.sqlite3"
    assert settings.url.drivername == "sqlite+aiosqlite"
    assert settings.retention_days == 90


def test_database_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = StoreSettings.from_env({"DATABASE_PATH": "data/bot.db"})

    assert settings.sqlite_path == tmp_path / "data" / "bot.db"
    assert settings.describe() == f"sqlite+aiosqlite:///{tmp_path}/data/bot.db"


def test_a_sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = StoreSettings.from_env({"DATABASE_URL": "sqlite+aiosqlite:///bot.db"})
    absolute = StoreSettings.from_env({"DATABASE_URL": "sqlite+aiosqlite:////srv/bot.db"})

    assert relative.sqlite_path == tmp_path / "bot.db"
    assert absolute.sqlite_path == Path("/srv/bot.db")


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+asyncpg://bot:{PASSWORD}@db.internal:5433/flowpreview",
        f"postgresql://bot:{PASSWORD}@db.internal:5433/flowpreview",
        f"postgres://bot:{PASSWORD}@db.internal:5433/flowpreview",
    ],
)
def test_postgresql_urls_use_asyncpg(url: str) -> None:
    settings = StoreSettings.from_env({"DATABASE_URL": url})

    assert not settings.is_sqlite
    assert settings.sqlite_path is None
    assert settings.url.drivername == "postgresql+asyncpg"
    assert (settings.url.host, settings.url.port, settings.url.database) == (
        "db.internal",
        5433,
        "flowpreview",
    )
    assert settings.url.password == PASSWORD
    assert settings.describe() == "postgresql+asyncpg://bot:***@db.internal:5433/flowpreview"


def test_libpq_sslmode_becomes_asyncpg_ssl() -> None:
    url = f"postgres://bot:{PASSWORD}@db.internal/flowpreview?sslmode=require"
    settings = StoreSettings.from_env({"DATABASE_URL": url})

    assert dict(settings.url.query) == {"ssl": "require"}


def test_a_password_may_hold_what_a_url_means_otherwise_as_sqlalchemy_reads_it() -> None:
    url = "postgresql://bot:pa/ss?w#rd@db.internal:5433/flowpreview?sslmode=require"
    settings = StoreSettings.from_env({"DATABASE_URL": url})

    assert settings.url.password == "pa/ss?w#rd"
    assert (settings.url.host, settings.url.port) == ("db.internal", 5433)
    assert dict(settings.url.query) == {"ssl": "require"}


def test_pgbouncers_statement_cache_setting_is_taken() -> None:
    url = "postgresql://bot@db/flowpreview?prepared_statement_cache_size=0"
    settings = StoreSettings.from_env({"DATABASE_URL": url})

    assert dict(settings.url.query) == {"prepared_statement_cache_size": "0"}


def test_database_url_wins_over_database_path() -> None:
    settings = StoreSettings.from_env(
        {"DATABASE_URL": "postgresql://bot@db/flowpreview", "DATABASE_PATH": "bot.db"}
    )

    assert not settings.is_sqlite


def test_the_password_never_shows_and_is_redacted_from_logs() -> None:
    settings = StoreSettings.from_env(
        {"DATABASE_URL": f"postgresql://bot:{PASSWORD}@db.internal/flowpreview"}
    )

    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.url)
    assert PASSWORD not in settings.describe()
    assert PASSWORD not in redact(f"asyncpg said: password {PASSWORD} refused")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (f"mysql://bot:{PASSWORD}@db/flowpreview", "unsupported scheme 'mysql'"),
        (f"sqlite:///{PASSWORD}.db", "unsupported scheme 'sqlite'"),
        (f"bot:{PASSWORD}@db/flowpreview", "not a database URL"),
        (f"postgresql://bot:{PASSWORD}@/flowpreview", "names no host"),
        (f"postgresql://bot:{PASSWORD}@db", "names no database"),
        (f"postgresql://bot:{PASSWORD}@db:99999/flowpreview", "port must be from 1 to 65535"),
        (f"postgresql://bot:{PASSWORD}@db:port/flowpreview", "cannot be read as a URL"),
        ("sqlite+aiosqlite://", "needs a file path"),
        ("sqlite+aiosqlite:///:memory:", "needs a file path"),
        (f"sqlite+aiosqlite://bot:{PASSWORD}@db/x.db", "takes no host"),
        (f"postgresql://bot@db/flowpreview?options={PASSWORD}", "takes no parameter options"),
        (
            "postgresql://bot@db/flowpreview?prepared_statement_cache_size=lots",
            "must be a whole number",
        ),
    ],
)
def test_a_bad_database_url_is_named_without_its_password(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StoreSettings.from_env({"DATABASE_URL": url})

    assert caught.value.variable == "DATABASE_URL"
    assert problem in str(caught.value)
    assert PASSWORD not in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [("0", "at least 1"), ("1.5", "whole number"), ("x", "whole number"), ("36501", "at most")],
)
def test_a_bad_retention_is_named(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StoreSettings.from_env({"AUDIT_RETENTION_DAYS": value})

    assert caught.value.variable == "AUDIT_RETENTION_DAYS"
    assert problem in str(caught.value)


def test_retention_days() -> None:
    assert StoreSettings.from_env({"AUDIT_RETENTION_DAYS": "7"}).retention_days == 7


def test_the_audit_queue_bound() -> None:
    assert StoreSettings.from_env({}).audit_queue_max == 10_000
    assert StoreSettings.from_env({"AUDIT_QUEUE_MAX": "100"}).audit_queue_max == 100
    assert StoreSettings.from_env({"AUDIT_QUEUE_MAX": "250000"}).audit_queue_max == 250_000


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("99", "at least 100"),
        ("0", "at least 100"),
        ("1000001", "at most 1000000"),
        ("lots", "whole number"),
        ("1e4", "whole number"),
    ],
)
def test_a_bad_audit_queue_bound_is_named_in_one_line(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        StoreSettings.from_env({"AUDIT_QUEUE_MAX": value})

    assert caught.value.variable == "AUDIT_QUEUE_MAX"
    assert problem in str(caught.value)
    assert "\n" not in str(caught.value)
