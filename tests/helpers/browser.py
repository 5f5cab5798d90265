"""Headless Chromium (Debian's, never a downloaded one) driven by Playwright's sync API.

Playwright's sync objects belong to the thread that made them, so one thread of its own
runs the browser; a trio test hands it functions with ``await browser.run(fn, *args)``,
which runs ``fn(page, *args)`` there. Everything waits on DOM conditions, never on time.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import outcome
import trio

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[1] / "fixtures" / "axe" / "node_modules" / "axe-core"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
"""Where the README's screenshots are saved: only with ``UPDATE_SCREENSHOTS=1`` (a plain test
run leaves the tree as it found it)."""


def screenshot(page: Page, name: str) -> None:
    """Save the page as the README's ``name`` screenshot when asked to (``UPDATE_SCREENSHOTS``)."""
    if os.environ.get("UPDATE_SCREENSHOTS") == "1":
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)


# Without the background-networking flags Chromium keeps calling Google's hosts, which this
# closed network refuses (and it fails at start looking them up).
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
TIMEOUT_MS = 30_000

Job = tuple["Callable[[Page], Any]", "Callable[[outcome.Outcome[Any]], None]"]


def missing() -> str | None:
    """Why the browser tests cannot run here (``None``: they can)."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing; run `make browser`"
    if not (AXE / "axe.min.js").exists():
        return f"{AXE}/axe.min.js is missing; run `make browser`"
    return None


class Browser:
    """One Chromium page on a thread of its own."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._size = {"width": width, "height": height}
        self.console: list[str] = []
        self._thread = threading.Thread(target=self._serve, name="browser", daemon=True)

    def _serve(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            # bypass_csp: axe is injected as an inline script, which the page's CSP forbids
            context = browser.new_context(viewport=self._size, bypass_csp=True)
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
            while (job := self._jobs.get()) is not None:
                fn, done = job
                done(outcome.capture(fn, page))
            context.close()
            browser.close()

    async def __aenter__(self) -> Browser:
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._jobs.put(None)
        await trio.to_thread.run_sync(self._thread.join)

    async def run(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(page, *args)`` on the browser's thread; return its value or raise."""
        send, recv = trio.open_memory_channel[outcome.Outcome[Any]](1)
        token = trio.lowlevel.current_trio_token()

        def done(result: outcome.Outcome[Any]) -> None:
            token.run_sync_soon(send.send_nowait, result)

        self._jobs.put((lambda page: fn(page, *args), done))
        async with recv:
            return (await recv.receive()).unwrap()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe-core (WCAG 2.0/2.1 A and AA rules) on the page; return its violations."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE / "axe.min.js"))
    tags = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", tags
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
    ]


def describe(violations: list[dict[str, Any]]) -> str:
    """The violations, readable in a failed assertion."""
    return json.dumps(violations, indent=1)
