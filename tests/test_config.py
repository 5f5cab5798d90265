from __future__ import annotations

import pytest

from runner.config import Settings
from runner.errors import ConfigError


def test_max_task_list_bytes_defaults_to_5_mb_and_reads_its_variable() -> None:
    assert Settings.from_env({}).max_task_list_bytes == 5 * 1024 * 1024
    assert Settings.from_env({"MAX_TASK_LIST_BYTES": "65536"}).max_task_list_bytes == 65536
    with pytest.raises(ConfigError, match="MAX_TASK_LIST_BYTES"):
        Settings.from_env({"MAX_TASK_LIST_BYTES": "12"})
