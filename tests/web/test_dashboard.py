"""The dashboard in headless Chromium against a real service on loopback.

The repository is a local bare remote with the scripted coding tool (``tool: "command"``),
so runs are real (git, the tool, VERIFY's gates) and fast. Every wait is on a DOM condition.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.helpers.browser import axe_violations, describe, screenshot

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from tests.helpers.browser import Browser
    from tests.helpers.service import Service

RUN_TIMEOUT_MS = 90_000

# Every status the customer view shows, in order, as it shows it.
RECORD_STATUSES = """() => {
  window.seenStatuses = [];
  const view = document.querySelector('#customer-view');
  new MutationObserver(() => {
    const status = view.dataset.status;
    if (window.seenStatuses.at(-1) !== status) window.seenStatuses.push(status);
  }).observe(view, {attributes: true, attributeFilter: ['data-status']});
}"""


def register(page: Page, customer_id: str, remote: Path, *, attempts: str = "") -> None:
    """Register a customer through the page's form; the page opens its view."""
    page.get_by_role("button", name="Register a customer").click()
    page.get_by_label("Customer id").fill(customer_id)
    page.get_by_label("Repository URL").fill(str(remote))
    page.get_by_label("Coding tool").select_option("command")
    page.get_by_label("Attempts per task").fill(attempts)
    page.get_by_role("button", name="Save").click()
    # the task tree is read by a SELECT of the customer's actor: once shown, Run is accepted
    page.wait_for_selector('#task-tree[data-loaded="true"]')


def run_to_a_verify_failure(page: Page, url: str, remote: Path) -> dict[str, Any]:
    page.goto(url)
    register(page, "acme", remote, attempts="1")
    tree = page.locator("#task-tree").inner_text()
    page.evaluate(RECORD_STATUSES)
    page.get_by_role("button", name="Run", exact=True).click()
    page.wait_for_selector('#customer-view[data-status="FAILED"]', timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector("#timeline [data-run] tr.outcome-failed")  # reloaded after FAILED
    seen = {
        "tree": tree,
        "statuses": page.evaluate("window.seenStatuses"),
        "log": page.locator("#log").inner_text(),
        "error": page.locator("#error-box").inner_text(),
        "failed_row": page.locator('.results tr[data-criterion="tests.pass"]').inner_text(),
        "timeline": page.locator("#timeline").inner_text(),
    }
    screenshot(page, "customer.png")
    seen["customer_axe"] = axe_violations(page)
    page.get_by_role("link", name="All customers").click()
    page.wait_for_selector('tr[data-customer="acme"] [data-status="FAILED"]')
    seen["row"] = page.locator('tr[data-customer="acme"]').inner_text()
    screenshot(page, "overview.png")
    seen["overview_axe"] = axe_violations(page)
    return seen


async def test_dashboard_runs_a_customer_live_to_a_verify_failure(
    service: Service, browser: Browser, remote: Path, tool_dir: Path
) -> None:
    (tool_dir / "break-1.1.2").write_text("")  # 1.1.2's change fails its test
    seen = await browser.run(run_to_a_verify_failure, service.url + "/", remote)
    assert "next 1.1.1 Add sub function to calc/ops.py" in seen["tree"]
    assert "blocked 1.1.2" in seen["tree"]
    assert "waiting for 1.1.1" in seen["tree"]
    stages = ["SELECTING", "PREPARING", "IMPLEMENTING", "VERIFYING"]
    assert seen["statuses"] == [*stages, "COMPLETING", *stages, "FAILED"], seen
    assert "edited calc/ops.py for 1.1.1" in seen["log"]
    assert "edited calc/ops.py for 1.1.2" in seen["log"]
    assert "ghp_" not in seen["log"]  # the tool printed a token: redacted on the way
    assert "VERIFY failed: criteria_not_met" in seen["error"]
    assert "NOT met" in seen["failed_row"]
    assert "test_mul" in seen["failed_row"]
    assert "verify" in seen["timeline"]
    assert "failed" in seen["timeline"]
    assert "FAILED" in seen["row"]
    assert "criteria_not_met" in seen["row"]
    assert seen["customer_axe"] == [], describe(seen["customer_axe"])
    assert seen["overview_axe"] == [], describe(seen["overview_axe"])
    assert not [m for m in browser.console if m.startswith(("error", "pageerror"))]


def stop_after_a_refused_run(page: Page, url: str, remote: Path) -> dict[str, Any]:
    page.goto(url)
    register(page, "acme", remote)
    run = page.get_by_role("button", name="Run", exact=True)
    run.click()
    page.wait_for_selector('#customer-view[data-status="IMPLEMENTING"]', timeout=RUN_TIMEOUT_MS)
    seen: dict[str, Any] = {}
    run.click()  # a second run while one is running: 409
    page.wait_for_selector("#action-message:has-text('cannot run')")
    seen["refused"] = page.locator("#action-message").inner_text()
    page.get_by_role("button", name="Stop…").click()
    page.get_by_role("button", name="Keep it running").click()
    page.wait_for_selector("#action-message:has-text('stop cancelled')")
    seen["after_cancel"] = page.locator("#customer-view").get_attribute("data-status")
    page.get_by_role("button", name="Stop…").click()
    page.get_by_role("button", name="Stop the run").click()
    page.wait_for_selector('#customer-view[data-status="STOPPED"]')
    seen["resume_enabled"] = page.get_by_role("button", name="Resume").is_enabled()
    seen["pause_enabled"] = page.get_by_role("button", name="Pause", exact=True).is_enabled()
    return seen


async def test_dashboard_stops_a_run_after_confirmation_and_shows_a_refusal(
    service: Service, browser: Browser, remote: Path, tool_dir: Path
) -> None:
    (tool_dir / "hang-1.1.1").write_text("")  # the tool hangs until the stop kills it
    seen = await browser.run(stop_after_a_refused_run, service.url + "/", remote)
    assert "cannot run while IMPLEMENTING" in seen["refused"]
    assert "IDLE, STOPPED, FAILED, DONE" in seen["refused"]
    assert seen["after_cancel"] == "IMPLEMENTING"
    assert (seen["resume_enabled"], seen["pause_enabled"]) == (True, False)
    async with service.client() as client:
        state = (await client.get("/customers/acme")).json()["state"]
    assert state["status"] == "STOPPED"
