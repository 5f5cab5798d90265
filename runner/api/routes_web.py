"""The dashboard: ``/`` serves ``runner/web/index.html``; the app's static route
(``/static/...``) serves the rest of ``runner/web`` (``create_app`` points it there). No build.

The page holds no data (it reads everything from the API with the caller's token), so it is
served without auth, like ``/health``. Not an API endpoint: hidden from the OpenAPI document.
"""

from __future__ import annotations

from pathlib import Path

from quart import Blueprint, Response, send_from_directory
from quart_schema import hide

__all__ = ["WEB_DIR", "blueprint", "is_page_path"]

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
"""The page's files (``runner/web``)."""

blueprint = Blueprint("web", __name__)

_STATIC = "/static/"
_SECURITY_HEADERS = {
    # everything comes from this origin; the page talks to its own API and WebSocket
    "Content-Security-Policy": "default-src 'self'; connect-src 'self' ws: wss:; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # revalidate with the ETag: an upgrade is seen at once
}


def is_page_path(path: str) -> bool:
    """Whether ``path`` is the page or one of its files (served without a token)."""
    return path == "/" or path.startswith(_STATIC)


@blueprint.get("/")
@hide
async def index() -> Response:
    """The dashboard page."""
    response = await send_from_directory(WEB_DIR, "index.html")
    response.headers.update(_SECURITY_HEADERS)
    return response
