"""The one secret scrubber: configured secret values, token shapes, URL credentials, keys.

Every string that leaves the process (responses, logs, events, artifacts, audit rows) passes
through a :class:`Redactor`. It is a pure value: build it once from the settings' secrets.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["MASK", "Redactor", "redact", "url_password"]

MASK = "***"

# Token shapes of the common providers; each pattern matches the whole secret.
_TOKEN_PATTERNS = [
    r"github_pat_[A-Za-z0-9_]{20,}",
    r"gh[pousr]_[A-Za-z0-9]{20,}",
    r"glpat-[A-Za-z0-9_\-]{20,}",
    r"sk-ant-[A-Za-z0-9_\-]{16,}",
    r"sk-(?:proj-)?[A-Za-z0-9_\-]{16,}",
    r"(?:AKIA|ASIA)[A-Z0-9]{16}",
    r"xox[baprs]-[A-Za-z0-9\-]{10,}",
]
_TOKENS = re.compile("|".join(f"(?:{p})" for p in _TOKEN_PATTERNS))
# scheme://user:password@host  or  scheme://token@host
_URL_CREDENTIALS = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<cred>[^/@\s:'\"]+(?::[^/@\s'\"]*)?)@"
)
_AUTH_HEADER = re.compile(
    r"(?P<head>\b(?:Authorization|Proxy-Authorization)\s*[:=]\s*)(?:(?P<scheme>Bearer|Basic|token)\s+)?[^\s'\",]+",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<head>\bBearer\s+)[A-Za-z0-9._~+/\-]{8,}=*")
_PEM = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.DOTALL
)
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_KEY_VALUE = re.compile(
    r"(?P<head>\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|API_KEY|APIKEY)\s*[=:]\s*)(?P<val>[^\s'\"]{4,})",
)


def _variants(secret: str) -> set[str]:
    """Return the spellings of a secret worth hiding: raw, URL-encoded (both styles)."""
    return {secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)}


def _as_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class Redactor:
    """Replace secrets in text with ``***``.

    Args:
        secrets: Configured secret values (GIT_TOKEN, API keys). Values shorter than 4
            characters are ignored: masking them would shred ordinary text.
    """

    secrets: tuple[str, ...] = attrs.field(default=(), converter=_as_tuple)
    _literal: re.Pattern[str] | None = attrs.field(init=False, default=None)

    def __attrs_post_init__(self) -> None:
        spellings = {v for s in self.secrets if len(s) >= 4 for v in _variants(s)}
        if spellings:
            ordered = sorted(spellings, key=len, reverse=True)
            pattern = re.compile("|".join(re.escape(s) for s in ordered))
            object.__setattr__(self, "_literal", pattern)

    def __call__(self, text: str) -> str:
        """Return ``text`` with every secret replaced by ``***``."""
        if not text:
            return text
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        text = _PEM.sub(MASK, text)
        text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{MASK}@", text)
        text = _AUTH_HEADER.sub(
            lambda m: f"{m['head']}{m['scheme'] + ' ' if m['scheme'] else ''}{MASK}", text
        )
        text = _BEARER.sub(lambda m: f"{m['head']}{MASK}", text)
        text = _KEY_VALUE.sub(lambda m: f"{m['head']}{MASK}", text)
        return _TOKENS.sub(MASK, text)

    def leaks(self, text: str) -> bool:
        """Whether ``text`` holds a secret that must never be committed.

        A configured secret value, a provider token shape or a private key. The looser
        patterns (``KEY=value``, URL credentials, auth headers) are for masking output only:
        they match ordinary code (``TOKEN = os.environ[...]``).
        """
        if self._literal is not None and self._literal.search(text):
            return True
        return bool(_TOKENS.search(text) or _PEM_BEGIN.search(text))

    def value(self, obj: Any) -> Any:
        """Redact every string inside ``obj`` (dicts, lists, tuples), keys included."""
        if isinstance(obj, str):
            return self(obj)
        if isinstance(obj, dict):
            return {self.value(k): self.value(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.value(v) for v in obj]
        return obj


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact ``text`` with the token shapes and the given secret values."""
    return Redactor(_as_tuple(secrets))(text)


def url_password(url: str) -> str | None:
    """Return the password a URL carries (``user:password@`` or ``?password=``), if any.

    A database URL's password is a secret to add to the :class:`Redactor`; the
    ``scheme://user:password@`` form is masked anyway, the query form and the password
    alone (in a driver's message) are not.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        return urllib.parse.unquote(parts.password)
    return urllib.parse.parse_qs(parts.query).get("password", [None])[0]
