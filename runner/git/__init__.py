"""The git layer: repository URLs, credentials, workspaces, branch names, cleanup.

PREP, SELECT, IMPLEMENT and COMPLETE use these names; nothing imports the inner modules.
"""

from __future__ import annotations

from runner.git.branch import branch_name, check_branch_name, is_valid_branch_name, slugify
from runner.git.credentials import GitAuth, git_env
from runner.git.janitor import remove_idle_workspaces
from runner.git.remote import classify_failure, clone, fetch, git_deadline, push, run_git
from runner.git.urls import RepoUrl, validate_repo_url, workspace_path
from runner.git.workspace import CLEAN_MARKER, BranchCheckout, Workspace
from runner.git.worktree import LAST_USED_MARKER, WorkTree

__all__ = [
    "CLEAN_MARKER",
    "LAST_USED_MARKER",
    "BranchCheckout",
    "GitAuth",
    "RepoUrl",
    "WorkTree",
    "Workspace",
    "branch_name",
    "check_branch_name",
    "classify_failure",
    "clone",
    "fetch",
    "git_deadline",
    "git_env",
    "is_valid_branch_name",
    "push",
    "remove_idle_workspaces",
    "run_git",
    "slugify",
    "validate_repo_url",
    "workspace_path",
]
