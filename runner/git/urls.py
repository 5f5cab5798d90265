"""Validate ``repoUrl`` values before anything reaches git, and derive workspace paths.

Accepted: ``https://host/path`` (``http://`` only for loopback hosts, for local test
servers), ``ssh://[user@]host[:port]/path``, scp-like ``user@host:path`` and, only when
local repositories are allowed, ``file:///abs/path`` and absolute paths. Everything else is
rejected: git's ``<transport>::<address>`` syntax (``ext::``, ``fd::``), a leading ``-``,
whitespace and control characters, query strings, and embedded credentials (the message says
to use ``GIT_TOKEN`` and never repeats the credential).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
import urllib.parse
from pathlib import Path, PurePosixPath

import attrs

from runner.config import CUSTOMER_ID
from runner.errors import InvalidInputError

__all__ = ["MAX_URL_LENGTH", "RepoUrl", "validate_repo_url", "workspace_path"]

MAX_URL_LENGTH = 2048
_FIELD = "repoUrl"
_CUSTOMER_ID = re.compile(CUSTOMER_ID)
_HOST = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$")
# user@host:path (git's scp-like syntax); the path may not start with "/" + "/".
_SCP = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>[^/].*|/[^/].*)$")
_SCP_PASSWORD = re.compile(r"^[^@/:]+:[^@/]*@")  # user:password@host:path
_PATH_CHARS = re.compile(r"^[A-Za-z0-9._~/+@%=,-]+$")
_NAME_CHARS = re.compile(r"[^a-z0-9._-]+")
_CREDENTIALS_MESSAGE = (
    "repoUrl must not contain credentials; configure GIT_USERNAME and GIT_TOKEN instead"
)


@attrs.frozen
class RepoUrl:
    """A validated repository location.

    Attributes:
        raw: The URL exactly as given (credential-free; safe to hand to git after ``--``).
        kind: ``"https"``, ``"ssh"`` or ``"local"``.
        display: A form safe to show in responses and logs.
        transport: The git protocol name for ``GIT_ALLOW_PROTOCOL``: ``https``, ``http``
            (loopback only), ``ssh`` or ``file``.
        normalized: Lower-cased host, no trailing ``/`` or ``.git``: the workspace identity.
    """

    raw: str
    kind: str
    display: str
    transport: str = "https"
    normalized: str = ""

    @property
    def name(self) -> str:
        """Return a short readable repository name (last path part, no ``.git``)."""
        last = self.normalized.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        cleaned = _NAME_CHARS.sub("-", last.lower()).strip(".-")
        return cleaned[:40] or "repo"


def _reject(message: str) -> InvalidInputError:
    return InvalidInputError(message, field=_FIELD)


def _check_characters(url: str) -> None:
    if not url:
        raise _reject("repoUrl is empty")
    if len(url) > MAX_URL_LENGTH:
        raise _reject(f"repoUrl is longer than {MAX_URL_LENGTH} characters")
    for char in url:
        if char.isspace() or unicodedata.category(char).startswith("C"):
            raise _reject("repoUrl must not contain whitespace or control characters")
    if url.startswith("-"):
        raise _reject("repoUrl must not start with '-'")
    if "::" in url:
        raise _reject("repoUrl must not use git's '<transport>::' syntax")


def _check_path(path: str) -> str:
    stripped = path.strip("/")
    if not stripped or not _PATH_CHARS.match(stripped):
        raise _reject("repoUrl has an empty or invalid repository path")
    if any(part in {".", ".."} for part in stripped.split("/")) or stripped.startswith("-"):
        raise _reject("repoUrl has an invalid repository path")
    return stripped.removesuffix(".git").rstrip("/")


def _check_host(host: str | None) -> str:
    if not host or not _HOST.match(host):
        raise _reject("repoUrl has a missing or invalid host")
    return host.lower()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split(url: str) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise _reject("repoUrl is not a valid URL") from None
    if parts.query or parts.fragment or "?" in url or "#" in url:
        raise _reject("repoUrl must not have a query string or fragment")
    return parts


def _validate_http(url: str, scheme: str) -> RepoUrl:
    parts = _split(url)
    if "@" in parts.netloc:
        raise _reject(_CREDENTIALS_MESSAGE)
    host = _check_host(parts.hostname)
    if scheme == "http" and not _is_loopback(host):
        raise _reject("repoUrl must use https (http is only accepted for loopback hosts)")
    path = _check_path(parts.path)
    port = f":{parts.port}" if parts.port is not None else ""
    return RepoUrl(url, "https", url, scheme, f"{scheme}://{host}{port}/{path}")


def _validate_ssh_url(url: str) -> RepoUrl:
    parts = _split(url)
    if parts.password is not None:
        raise _reject(_CREDENTIALS_MESSAGE)
    user = parts.username
    if user is not None and not _USER.match(user):
        raise _reject("repoUrl has an invalid ssh user")
    host = _check_host(parts.hostname)
    path = _check_path(parts.path)
    port = f":{parts.port}" if parts.port is not None else ""
    return RepoUrl(url, "ssh", url, "ssh", f"ssh://{host}{port}/{path}")


def _validate_scp(url: str) -> RepoUrl | None:
    if _SCP_PASSWORD.match(url):
        raise _reject(_CREDENTIALS_MESSAGE)
    match = _SCP.match(url)
    if match is None:
        return None
    user, host = match["user"], match["host"]
    if user is not None and not _USER.match(user):
        raise _reject("repoUrl has an invalid ssh user")
    host = _check_host(host)
    path = _check_path(match["path"])
    return RepoUrl(url, "ssh", url, "ssh", f"ssh://{host}/{path}")


def _validate_local(url: str, *, allow_local: bool) -> RepoUrl:
    if not allow_local:
        raise _reject("local repositories are not allowed here (ALLOW_LOCAL_REPOS is off)")
    if url.startswith("file://"):
        parts = _split(url)
        if parts.netloc not in {"", "localhost"}:
            raise _reject("file:// URLs must name a local absolute path")
        path = urllib.parse.unquote(parts.path)
    else:
        path = url
    pure = PurePosixPath(path)
    if not pure.is_absolute() or ".." in pure.parts or "\x00" in path:
        raise _reject("a local repoUrl must be an absolute path without '..'")
    normalized = str(pure).rstrip("/").removesuffix("/.git").removesuffix(".git") or "/"
    return RepoUrl(url, "local", url, "file", f"file://{normalized}")


def validate_repo_url(url: str, *, allow_local: bool) -> RepoUrl:
    """Validate ``url`` and return it as a :class:`RepoUrl`.

    Raises:
        InvalidInputError: naming the ``repoUrl`` field; the message never echoes a credential.
    """
    if not isinstance(url, str):
        raise _reject("repoUrl must be a string")
    _check_characters(url)
    scheme, sep, _rest = url.partition("://")
    if sep:
        scheme = scheme.lower()
        if scheme in {"https", "http"}:
            return _validate_http(url, scheme)
        if scheme == "ssh":
            return _validate_ssh_url(url)
        if scheme == "file":
            return _validate_local(url, allow_local=allow_local)
        raise _reject("repoUrl must use https, ssh or (when allowed) a local path")
    if url.startswith("/"):
        return _validate_local(url, allow_local=allow_local)
    scp = _validate_scp(url)
    if scp is not None:
        return scp
    raise _reject("repoUrl must be an https or ssh URL (or an absolute path when allowed)")


def workspace_path(root: Path, customer_id: str, repo: RepoUrl) -> Path:
    """Return ``root/<customerId>/<name>-<hash>`` for the customer's clone of ``repo``.

    Raises:
        InvalidInputError: the customer id is not a valid identifier.
    """
    if not _CUSTOMER_ID.match(customer_id):
        raise InvalidInputError("invalid customerId", field="customerId")
    digest = hashlib.sha256(repo.normalized.encode()).hexdigest()[:12]
    return Path(root) / customer_id / f"{repo.name}-{digest}"
