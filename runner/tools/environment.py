"""The environment a tool process sees: an allowlist, never the service's own environment.

A coding tool runs code a model wrote in a repository a customer owns, so it gets only what
it needs: ``PATH``, the locale, a runner-owned ``HOME``, ``TERM=dumb`` and the model keys the
operator configured (``Settings.model_env``: ``*_API_KEY``, ``*_API_BASE``, ``AIDER_*``).
Git credentials (``GIT_TOKEN``, ``GIT_USERNAME``) and everything else stay with the service.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from runner.config import Settings

__all__ = ["FORBIDDEN_NAMES", "tool_environment"]

_PASSED_NAMES = ("PATH", "LANG", "LANGUAGE")
_PASSED_PREFIXES = ("LC_",)
FORBIDDEN_NAMES = frozenset({"GIT_TOKEN", "GIT_USERNAME", "GIT_ASKPASS", "RUNNER_API_TOKENS"})
"""Names that never reach a tool, whatever the configuration says."""

_FIXED = {
    "TERM": "dumb",
    "NO_COLOR": "1",
    # git inside the tool reads neither the host's system config nor a terminal prompt.
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def tool_environment(
    settings: Settings,
    *,
    home: Path,
    extra: Mapping[str, str] | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Build the environment for a tool process.

    Args:
        settings: Supplies the model keys (``model_env``).
        home: The runner-owned directory to use as ``HOME``.
        extra: Tool-specific variables (e.g. ``BROWSER=true``); they win over the rest.
        base: The environment to take ``PATH`` and the locale from (default: ``os.environ``).

    Returns:
        A fresh mapping; nothing outside the allowlist is copied from ``base``.
    """
    source = os.environ if base is None else base
    env = {
        name: value
        for name, value in source.items()
        if name in _PASSED_NAMES or name.startswith(_PASSED_PREFIXES)
    }
    env.setdefault("PATH", os.defpath)
    env.update(_FIXED)
    env.update(settings.model_env)
    env["HOME"] = str(home)
    env.update(extra or {})
    for name in FORBIDDEN_NAMES:
        env.pop(name, None)
    return env
