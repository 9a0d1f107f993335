"""Retake the README's screenshot (`assets/screenshot.png`) from the real app, so the picture shows what the
app serves now (its reading, its checkpoints, their measured numbers) rather than what it served when the
last one was taken.

It launches `python app.py` offline the way the tests do, opens it in Debian's Chromium, generates the
4,000-token Reasoning haystack of seed 3, runs it with the *auto* model choice and saves the whole page,
1,400 pixels wide:

    HF_HUB_OFFLINE=1 PYTHONPATH=. python docs/scripts/screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import launch_app, stop_app  # noqa: E402 - the tests' launcher, one way to start the app
from test_browser import app_page  # noqa: E402 - the tests' browser, opened the same way


def take(out: Path) -> None:
    from playwright.sync_api import expect

    url, proc, log_path = launch_app()
    try:
        with app_page(url) as page:
            page.get_by_label("reasoning", exact=True).check()
            length = page.get_by_label("Length in tokens")
            length.fill("4000")
            length.press("Enter")
            page.get_by_label("Seed", exact=False).fill("3")
            page.get_by_role("button", name="Generate haystack").click()
            expect(page.locator(".rmt-preview")).to_contain_text("4,000", timeout=60_000)
            page.get_by_role("button", name="Run RMT").click()
            expect(page.get_by_text("RMT answers")).to_be_visible(timeout=120_000)
            expect(page.locator(".js-plotly-plot .heatmaplayer").nth(1)).to_be_attached(timeout=30_000)
            page.wait_for_timeout(2_000)  # let Plotly finish drawing before the picture
            page.screenshot(path=str(out), full_page=True)
    finally:
        stop_app(proc, log_path)
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    take(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "assets" / "screenshot.png")
