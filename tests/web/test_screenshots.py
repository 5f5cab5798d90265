"""The README's screenshots are written only when asked for (a test run leaves the tree as is)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.helpers import browser

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


class _Page:
    def __init__(self) -> None:
        self.saved: list[str] = []

    def screenshot(self, *, path: str, full_page: bool) -> None:
        self.saved.append(path)


def test_screenshots_are_saved_only_with_update_screenshots(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(browser, "SCREENSHOTS", tmp_path)
    page: Any = _Page()
    monkeypatch.delenv("UPDATE_SCREENSHOTS", raising=False)
    browser.screenshot(page, "overview.png")
    assert page.saved == []
    monkeypatch.setenv("UPDATE_SCREENSHOTS", "1")
    browser.screenshot(page, "overview.png")
    assert page.saved == [str(tmp_path / "overview.png")]
