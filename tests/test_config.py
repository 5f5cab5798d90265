"""Settings read from the environment."""

from __future__ import annotations

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
