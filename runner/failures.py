"""Which failures of the model and of git remotes pass (transient) and which stay (permanent).

One table, :data:`RULES`, read top to bottom: the first row with a pattern found in the output
wins, so specific rows come before generic ones (an HTTP 404 before "unable to access").
Patterns are checked against what the real tools print; the recordings under
``tests/fixtures/failures/`` (and ``tests/test_failures.py``) keep them honest.

- ``tool`` rows read aider's output: it prints litellm's exceptions as ``litellm.<Name>: …``
  at the start of a line, and ``Retrying in N seconds...`` before each of its own retries.
- ``git`` rows read git's stderr (``git-remote-http`` relays curl's errors, ssh its own).

:func:`transient` answers for a raised :class:`~runner.errors.RunnerError` by its code: a
transient one may succeed if the same step is run again later (with backoff); a permanent one
needs a person (a key, a token, a URL).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

import attrs

if TYPE_CHECKING:
    from runner.errors import RunnerError

__all__ = ["RULES", "Failure", "FailureRule", "Kind", "Source", "classify", "transient"]

Source = Literal["tool", "git"]
"""Whose output a rule reads: the coding tool's (aider) or git's."""

Kind = Literal["transient", "permanent"]
"""Whether running the step again later may succeed."""


@attrs.frozen
class FailureRule:
    """One row of the table: output matching any of ``patterns`` is a ``code`` failure."""

    source: Source
    code: str
    kind: Kind
    reason: str
    patterns: tuple[re.Pattern[str], ...]


@attrs.frozen
class Failure:
    """A classified failure and the output line that gave it away."""

    code: str
    kind: Kind
    reason: str
    line: str

    @property
    def transient(self) -> bool:
        """Whether running the step again later may succeed."""
        return self.kind == "transient"

    def as_dict(self) -> dict[str, str | bool]:
        """The failure as error evidence (code, kind, transient, reason, line)."""
        return {
            "code": self.code,
            "kind": self.kind,
            "transient": self.transient,
            "reason": self.reason,
            "line": self.line,
        }


def _rule(source: Source, code: str, kind: Kind, reason: str, *patterns: str) -> FailureRule:
    compiled = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in patterns)
    return FailureRule(source, code, kind, reason, compiled)


# litellm's exception names as aider prints them: at the start of a line, so the model's own
# reply (echoed to stdout) only matches when it starts a line with the same words.
_LITELLM = r"^[^\w\n]*litellm\."

RULES: tuple[FailureRule, ...] = (
    # -- the model (aider) -------------------------------------------------------------------
    _rule(
        "tool",
        "model_auth_failed",
        "permanent",
        "the model API refused the API key",
        _LITELLM + r"AuthenticationError\b",
        _LITELLM + r"PermissionDeniedError\b",
    ),
    _rule(
        "tool",
        "model_not_found",
        "permanent",
        "the model API does not know the model",
        _LITELLM + r"NotFoundError\b",
    ),
    _rule(
        "tool",
        "model_rate_limited",
        "transient",
        "the model API is rate limiting requests",
        _LITELLM + r"(?:Router)?RateLimitError\b",
    ),
    _rule(
        "tool",
        "model_unavailable",
        "transient",
        "the model API is down, overloaded or unreachable",
        _LITELLM + r"(?:InternalServerError|ServiceUnavailableError|BadGatewayError"
        r"|APIConnectionError|Timeout|APIError)\b",
    ),
    _rule(
        "tool",
        "model_request_failed",
        "permanent",
        "the model API rejected the request",
        _LITELLM + r"(?:BadRequestError|ContextWindowExceededError"
        r"|ContentPolicyViolationError|UnprocessableEntityError)\b",
    ),
    # aider retries only what it deems retryable; an error it retried that no row above names
    _rule(
        "tool",
        "model_unavailable",
        "transient",
        "the model API call failed and was retried",
        r"^Retrying in [\d.]+ seconds",
    ),
    # -- git remotes -------------------------------------------------------------------------
    _rule(
        "git",
        "git_auth_failed",
        "permanent",
        "the remote refused the credentials",
        r"authentication failed",
        r"could not read (?:username|password)",
        r"terminal prompts disabled",
        r"permission denied \(publickey",
        r"returned error: 40[13]\b",
        r"HTTP 40[13]\b",
    ),
    _rule(
        "git",
        "repo_not_found",
        "permanent",
        "the repository does not exist",
        r"repository .*not found",
        r"repository '.*' does not exist",
        r"does not appear to be a git repository",
        r"returned error: 404\b",
        r"HTTP 404\b",
    ),
    _rule(
        "git",
        "repo_access_denied",
        "permanent",
        "the remote refused the request",
        r"returned error: 4\d\d\b",
        r"HTTP 4\d\d\b",
        r"permission denied",
        r"access denied",
        r"host key verification failed",
        r"transport '[a-z+]+' not allowed",
    ),
    _rule(
        "git",
        "git_remote_unavailable",
        "transient",
        "the remote is unreachable or failed to answer",
        r"returned error: 5\d\d\b",
        r"HTTP 5\d\d\b",
        r"could not resolve host",
        r"connection refused",
        r"connection reset",
        r"connection timed out",
        r"timed out",
        r"operation too slow",
        r"failed to connect",
        r"unable to connect",
        r"couldn't connect to server",
        r"no route to host",
        r"network is unreachable",
        r"empty reply from server",
        r"early eof",
        r"the remote end hung up",
        r"transfer closed with",
        r"RPC failed",
        r"unexpected disconnect",
        r"gnutls_handshake\(\) failed",
        r"SSL_ERROR_SYSCALL",
    ),
    # generic prefixes git prints for any remote failure not named above
    _rule(
        "git",
        "repo_access_denied",
        "permanent",
        "the repository is not accessible",
        r"unable to access",
        r"could not read from remote repository",
    ),
)
"""The failure table, first match wins (see the module's docstring)."""

_ALWAYS_TRANSIENT = frozenset({"git_timeout"})
_TRANSIENT_CODES = frozenset(r.code for r in RULES if r.kind == "transient") | _ALWAYS_TRANSIENT


def _line_at(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    end = text.find("\n", index)
    return text[start : len(text) if end < 0 else end].strip()


def classify(source: Source, text: str) -> Failure | None:
    """Return the first :data:`RULES` row of ``source`` that ``text`` matches, or ``None``.

    Args:
        source: ``"tool"`` for the coding tool's output, ``"git"`` for git's stderr.
        text: The output, any number of lines.
    """
    for rule in RULES:
        if rule.source != source:
            continue
        found = [m.start() for p in rule.patterns if (m := p.search(text)) is not None]
        if found:  # the row's first line in the output, whichever pattern found it
            return Failure(rule.code, rule.kind, rule.reason, _line_at(text, min(found)))
    return None


def transient(exc: RunnerError) -> bool:
    """Whether the error a stage raised may pass if the stage runs again later.

    Decided by the error's code: a transient row of :data:`RULES`, or ``git_timeout``.
    """
    return exc.code in _TRANSIENT_CODES
