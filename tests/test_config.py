"""Settings read from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.config import Settings
from runner.errors import ConfigError


def test_max_task_list_bytes_defaults_to_5_mb_and_reads_its_variable() -> None:
    assert Settings.from_env({}).max_task_list_bytes == 5 * 1024 * 1024
    assert Settings.from_env({"MAX_TASK_LIST_BYTES": "65536"}).max_task_list_bytes == 65536
    with pytest.raises(ConfigError, match="MAX_TASK_LIST_BYTES"):
        Settings.from_env({"MAX_TASK_LIST_BYTES": "12"})


def test_min_free_mb_defaults_to_500_and_reads_the_environment() -> None:
    assert Settings.from_env({}).min_free_mb == 500
    assert Settings.from_env({"MIN_FREE_MB": "2048"}).min_free_mb == 2048
    assert Settings.from_env({"MIN_FREE_MB": "0"}).min_free_mb == 0  # the check is off


def test_min_free_mb_must_be_a_whole_non_negative_number() -> None:
    for raw in ("-1", "lots"):
        with pytest.raises(ConfigError) as info:
            Settings.from_env({"MIN_FREE_MB": raw})
        assert info.value.variable == "MIN_FREE_MB"


def test_database_url_sqlite_names_the_file() -> None:
    settings = Settings.from_env({"DATABASE_URL": "sqlite:///./data/x.db"})
    assert settings.database_path == Path("data/x.db")
    assert settings.postgres_url is None
    assert Settings.from_env({}).database_path == Path("var/runner.db")


def test_database_url_postgresql_selects_postgres_and_its_password_is_a_secret() -> None:
    url = "postgresql://runner:s3cret-pw@db.internal:5432/runner?sslmode=require"
    settings = Settings.from_env({"DATABASE_URL": url})
    assert settings.postgres_url == url
    assert "s3cret-pw" in settings.secrets  # so logs and responses mask it
    assert "s3cret-pw" not in repr(settings)
    short = Settings.from_env({"DATABASE_URL": "postgres://db/runner?password=qu3ry-pw"})
    assert short.postgres_url == "postgres://db/runner?password=qu3ry-pw"
    assert "qu3ry-pw" in short.secrets


@pytest.mark.parametrize(
    "url", ["mysql://db/runner", "postgresql:///runner", "sqlite:///", "runner.db"]
)
def test_database_url_must_be_sqlite_or_postgresql_with_a_host(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"DATABASE_URL": url})
    assert info.value.variable == "DATABASE_URL"
