"""Compact, deterministic JSON for response bodies (idempotent replays compare bytes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["dumps", "request_hash"]


def dumps(body: Any) -> bytes:
    """Serialise ``body`` to UTF-8 JSON bytes."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def request_hash(payload: Any) -> str:
    """Return a stable hash of a request payload (key order does not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
