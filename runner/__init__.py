"""devteam-runner: an automated dev team for a repository's task list."""

__version__ = "0.1.0"
