"""Settings read from the environment (the variables this branch added)."""

from __future__ import annotations

import pytest

from runner.config import Settings
from runner.errors import ConfigError


def test_min_free_mb_defaults_to_500_and_reads_the_environment() -> None:
    assert Settings.from_env({}).min_free_mb == 500
    assert Settings.from_env({"MIN_FREE_MB": "2048"}).min_free_mb == 2048
    assert Settings.from_env({"MIN_FREE_MB": "0"}).min_free_mb == 0  # the check is off


def test_min_free_mb_must_be_a_whole_non_negative_number() -> None:
    for raw in ("-1", "lots"):
        with pytest.raises(ConfigError) as info:
            Settings.from_env({"MIN_FREE_MB": raw})
        assert info.value.variable == "MIN_FREE_MB"
