from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runner.git import branch_name, is_valid_branch_name, slugify


def git_accepts_branch(name: str) -> bool:
    result = subprocess.run(
        ["git", "check-ref-format", "--branch", name], capture_output=True, check=False
    )
    return result.returncode == 0


@pytest.mark.parametrize(
    ("task_id", "title", "expected"),
    [
        (
            "1.1.1",
            "Add DEVTEAM_ENABLED flag to src/config.js",
            "task/1-1-1-add-devteam-enabled-flag",
        ),
        (
            "1.1.2",
            "Export DEVTEAM_RUNNER_BASE_URL in src/config.js",
            "task/1-1-2-export-devteam-runner-base-url",
        ),
        ("2.3", "Move helpers into `lib/util.ts`", "task/2-3-move-helpers"),
        ("1.1.5.1", "Read settings from config.yaml", "task/1-1-5-1-read-settings"),
        ("3.1", "Run on Linux", "task/3-1-run-on-linux"),
        ("4.2", "Écrire la doc ✅", "task/4-2-ecrire-la-doc"),
        ("5.1", "!!!", "task/5-1"),
    ],
)
def test_branch_name_examples(task_id: str, title: str, expected: str) -> None:
    assert branch_name(task_id, title) == expected


def test_slug_is_cut_on_a_word_boundary() -> None:
    title = "Implement the customer registry with persistence and round robin fairness"
    slug = slugify(title)
    assert len(slug) <= 48
    assert slug == "implement-the-customer-registry-with-persistence"
    assert slugify("x" * 60) == "x" * 48


@settings(max_examples=200, deadline=None)
@given(task_id=st.text(max_size=20), title=st.text(max_size=120))
def test_branch_name_is_always_a_valid_ref(task_id: str, title: str) -> None:
    name = branch_name(task_id, title)
    assert name.startswith("task/")
    assert is_valid_branch_name(name)
    assert git_accepts_branch(name)


@settings(max_examples=200, deadline=None)
@given(name=st.text(alphabet=st.sampled_from(list("ab/.-@{}~^:?*[\\ lock")), max_size=12))
def test_is_valid_branch_name_never_accepts_what_git_refuses(name: str) -> None:
    if is_valid_branch_name(name):
        assert git_accepts_branch(name)
        assert not name.startswith("-")


@pytest.mark.parametrize("name", ["main", "release/1.2", "feature/x-y", "task/1-1-1-add"])
def test_is_valid_branch_name_accepts_ordinary_names(name: str) -> None:
    assert is_valid_branch_name(name)
    assert git_accepts_branch(name)


@pytest.mark.parametrize(
    "name", ["", "-x", "a..b", "a.lock", "a/.b", "a b", "a~1", "a:b", "a@{1}", "a/", "@", "a//b"]
)
def test_is_valid_branch_name_rejects(name: str) -> None:
    assert not is_valid_branch_name(name)
