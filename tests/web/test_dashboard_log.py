"""The live log at 1,000 lines a second for one customer: every line arrives, the tab stays
responsive (animation frames keep coming), and the filter and follow toggle work on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import trio

from tests.helpers.fake_stages import FakeStages
from tests.helpers.service import running_service, service_settings

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from runner.pipeline import ImplementRequest, ImplementResult, StageContext
    from tests.helpers.browser import Browser

LINES = 3000
PER_TICK = 100  # 100 lines every 0.1 s: 1,000 lines a second for 3 s


@attrs.define(eq=False)
class ChattyStages(FakeStages):
    """IMPLEMENT prints LINES log lines at 1,000 a second."""

    async def implement(self, ctx: StageContext, request: ImplementRequest) -> ImplementResult:
        for n in range(LINES):
            ctx.log("info", f"tool line {n:04d}")
            if n % PER_TICK == PER_TICK - 1:
                await trio.sleep(0.1)
        return await super().implement(ctx, request)


# The longest gap between two animation frames while the lines arrive (a frozen tab has none).
WATCH_FRAMES = """() => {
  window.maxFrameGap = 0;
  let last = performance.now();
  const tick = (now) => {
    window.maxFrameGap = Math.max(window.maxFrameGap, now - last);
    last = now;
    if (!window.stopWatching) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}"""


def flood(page: Page, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_selector('#customer-view[data-status="IDLE"]')
    page.wait_for_selector('#connection[data-state="live"]')
    page.evaluate(WATCH_FRAMES)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_selector('#customer-view[data-status="DONE"]')
    page.wait_for_selector(f"#log:has-text('tool line {LINES - 1:04d}')")
    page.evaluate("window.stopWatching = true")
    seen = {
        "gap_ms": page.evaluate("window.maxFrameGap"),
        "shown": page.locator("#log .log-line").count(),
        "count": page.locator("#log-count").inner_text(),
    }
    page.get_by_label("Filter").fill("tool line 1234")
    seen["filtered"] = page.locator("#log .log-line").all_inner_texts()
    follow = page.get_by_role("button", name="Follow log")
    follow.click()
    seen["paused"] = follow.get_attribute("aria-pressed")
    return seen


async def test_dashboard_log_takes_1000_lines_a_second_without_freezing(
    tmp_path: Path, browser: Browser
) -> None:
    stages = ChattyStages(tasks=("1.1.1",))
    with trio.fail_after(120):
        async with running_service(service_settings(tmp_path), stages) as service:
            async with service.client() as client:
                put = await client.put("/customers/acme", json={"repoUrl": "/srv/acme.git"})
                assert put.status_code == 200, put.text
            seen = await browser.run(flood, f"{service.url}/#/customers/acme")
    assert seen["shown"] == 1000  # the newest 1,000 lines stay in the page
    shown, total = (int(word) for word in seen["count"].split() if word.isdigit())
    assert shown == 1000
    assert total > LINES  # every tool line arrived (and the stages' own lines)
    print(f"max gap between animation frames: {seen['gap_ms']:.0f} ms")  # noqa: T201
    assert seen["gap_ms"] < 500, f"the tab froze for {seen['gap_ms']:.0f} ms"
    assert len(seen["filtered"]) == 1
    assert seen["filtered"][0].endswith("tool line 1234")
    assert seen["paused"] == "false"
