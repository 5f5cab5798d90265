from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from runner.errors import InvalidInputError
from runner.paths import path_in_repo, relative_path

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("raw", ["", "/etc/passwd", "../x", "a/../../x", "a\0b", "a\\..\\b", "."])
def test_relative_path_refuses_what_is_not_a_relative_path_in_the_repo(raw: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        relative_path(raw, "tasksFile")
    assert caught.value.details[0]["field"] == "tasksFile"


def test_relative_path_normalises() -> None:
    assert relative_path("./docs//DevTeam/tasks.md", "f") == "docs/DevTeam/tasks.md"


def test_path_in_repo_refuses_a_symlink_out_and_allows_one_inside(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside.md"
    (repo / "docs").mkdir(parents=True)
    outside.write_text("secret")
    (repo / "docs" / "out.md").symlink_to(outside)
    (repo / "docs" / "dir").symlink_to(tmp_path)
    (repo / "docs" / "real.md").write_text("ok")
    (repo / "docs" / "in.md").symlink_to("real.md")
    for raw in ("docs/out.md", "docs/dir/outside.md"):
        with pytest.raises(InvalidInputError, match="outside the repo"):
            path_in_repo(repo, raw, "f")
    assert path_in_repo(repo, "docs/in.md", "f") == (repo / "docs" / "real.md").resolve()
    assert path_in_repo(repo, "docs/new.md", "f") == (repo / "docs" / "new.md").resolve()
