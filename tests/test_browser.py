"""A real browser (Debian's Chromium via Playwright) drives the launched app end to end."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rmt.checkpoint import load_checkpoint_tokenizer, read_config
from rmt.haystack import build_haystack
from rmt.segments import text_bounds

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# offline and headless: no GPU, no sandbox (containers), none of Chromium's own calls home
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed (apt-get install chromium)"
)
CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "rmt-minilm-babi"
SHIPPED = read_config(CHECKPOINT)


def segments_of(task: str, tokens: int, seed: int) -> int:
    """How many segments the app reads a scene's haystack in, as the shipped config lays them out (moved to
    sentence ends, the count depends on the text, not the length alone)."""
    hay = build_haystack(task, tokens, load_checkpoint_tokenizer(CHECKPOINT), seed=seed)
    return len(text_bounds(hay.token_ids, SHIPPED))


@needs_chromium
def test_generate_run_and_see_attention(app_url, tmp_path) -> None:
    from playwright.sync_api import expect

    with app_page(app_url[0]) as page:
        page.get_by_role("button", name="Generate haystack").click()
        expect(page.locator(".rmt-preview mark").first).to_be_visible(timeout=60_000)
        page.get_by_role("button", name="Run RMT").click()
        expect(page.get_by_text("RMT answers")).to_be_visible(timeout=120_000)
        expect(page.locator("#status")).to_contain_text("done")
        heatmaps = page.locator(".js-plotly-plot .heatmaplayer")
        expect(heatmaps.nth(1)).to_be_attached(timeout=30_000)  # memory-distance map and attention heatmap
        page.screenshot(path=str(tmp_path / "app.png"), full_page=True)
        page.get_by_role("tab", name="Compute").click()  # the run's length marked on the FLOP curves
        flops = page.locator(".js-plotly-plot", has_text="Compute: full attention vs RMT")
        expect(flops).to_be_visible(timeout=30_000)
        expect(flops).to_contain_text("this run")
        low, high = flops.evaluate("el => el._fullLayout.xaxis.range")  # log10 of tokens, as drawn
        assert 1 < low < 3 and 6 < high < 7.5, (low, high)  # 128 to 4M tokens, not stretched by the label
        # the title wraps onto a second line ("...and the" / "benchmark"), whose text joins with no space
        timed = page.locator(".js-plotly-plot", has_text="Measured time: your run and the")
        expect(timed).to_contain_text("this run")  # the run just done, beside the shipped rmt.bench rows
        expect(timed).to_contain_text("full attention (")
        # the FLOP table is filled in for the length in the box before anyone presses Compare
        expect(page.locator(".block", has_text="FLOPs at this length").last).to_contain_text("opt-175b")
        page.get_by_role("tab", name="Accuracy").click()  # the shipped needle maps, RMT beside no memory
        needle = page.locator(".js-plotly-plot", has_text="Needle map")
        expect(needle).to_be_visible(timeout=30_000)
        assert needle.locator(".heatmaplayer").count() == 2
        accuracy = page.locator(".js-plotly-plot", has_text="Accuracy against length")
        expect(accuracy).to_contain_text("rmt-minilm-babi: memorize, book without its room sentences")  # stars
        expect(accuracy).to_contain_text("rmt-minilm-reasoning: reasoning")  # both served checkpoints
        plot_height = accuracy.evaluate("el => el._fullLayout._size.h")  # px left to the plot above its legend
        assert plot_height >= 250, plot_height
        page.get_by_role("tab", name="Haystack & run").click()  # a new haystack: the old verdict must go
        page.get_by_label("Seed", exact=False).fill("7")
        page.get_by_role("button", name="Generate haystack").click()
        expect(page.locator("#status")).to_contain_text("Haystack ready", timeout=60_000)
        expect(page.get_by_text("RMT answers")).to_have_count(0)
        expect(page.locator(".js-plotly-plot .heatmaplayer:visible")).to_have_count(0)  # no stale attention
    assert (tmp_path / "app.png").stat().st_size > 10_000


@contextlib.contextmanager
def app_page(url: str) -> Iterator:
    """The app open in Chromium, 1,400 pixels wide; the browser closes however the caller's block ends."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.goto(url)
            yield page
        finally:
            browser.close()


@contextlib.contextmanager
def long_run_page(url: str) -> Iterator:
    """A page whose 2,000,000-token run is under way: minutes of work that something must end."""
    from playwright.sync_api import expect

    with app_page(url) as page:
        length = page.get_by_label("Length in tokens")
        length.fill("2000000")
        length.press("Enter")
        page.get_by_role("button", name="Generate haystack").click()
        expect(page.locator(".rmt-preview")).to_contain_text("2,000,000", timeout=60_000)
        page.get_by_role("button", name="Run RMT").click()
        expect(page.locator("#status")).to_contain_text("running", timeout=60_000)
        yield page


@needs_chromium
def test_closing_the_tab_ends_a_long_run(app_url) -> None:
    """A visitor who leaves mid-run must not leave a 2M-token job running on the server."""
    import time

    from conftest import cpu_seconds

    with long_run_page(app_url[0]) as page:
        page.close()
    pid = app_url[1].pid
    deadline = time.time() + 30
    while time.time() < deadline:
        before = cpu_seconds(pid)
        time.sleep(2.0)
        if cpu_seconds(pid) - before < 0.6:
            break
    else:
        raise AssertionError("the run kept the CPU busy 30 s after the tab closed")


@needs_chromium
def test_a_new_scene_mid_run_ends_the_old_run(app_url) -> None:
    """On stage: a 2M-token run is going, the speaker clicks a scene; the scene must not queue behind it."""
    from playwright.sync_api import expect

    with long_run_page(app_url[0]) as page:
        page.get_by_role("button", name="▶ Memorize · 2K tokens").click()
        # the old run alone would hold the model for ten minutes; the scene's 2,000 tokens take seconds
        n = segments_of("memorize", 2000, 2)  # the scene's haystack
        expect(page.locator("#status")).to_contain_text(f"done · segment {n} of {n}", timeout=120_000)
        expect(page.locator("#verdict")).to_contain_text("RMT answers")


@needs_chromium
def test_stop_says_where_the_run_stopped(app_url) -> None:
    """Stop mid-run: the page must say the run stopped and where, not hang on 'Stopping…'."""
    from playwright.sync_api import expect

    with long_run_page(app_url[0]) as page:
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#status")).to_contain_text("stopped · segment", timeout=30_000)
        expect(page.locator("#verdict")).to_contain_text("Stopped after")
        expect(page.locator("#verdict")).to_contain_text("no final answer")
        stopped_at = segment_shown(page)
        page.get_by_role("button", name="Continue").click()  # goes on from there, not from segment 1
        expect(page.locator("#status")).to_contain_text("running", timeout=60_000)
        assert segment_shown(page) >= stopped_at
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#status")).to_contain_text("stopped · segment", timeout=30_000)
        page.get_by_role("button", name="Run RMT").click()  # and the same haystack runs again
        expect(page.locator("#status")).to_contain_text("running", timeout=60_000)
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#status")).to_contain_text("stopped · segment", timeout=30_000)


def segment_shown(page) -> int:
    """The segment count in the page's status line ("running · segment 1,234 of 17,392 · ...")."""
    import re

    return int(re.search(r"segment ([\d,]+) of", page.locator("#status").inner_text()).group(1).replace(",", ""))


@needs_chromium
def test_the_model_choice_runs_either_checkpoint_on_one_haystack(app_url) -> None:
    """A scene sets the checkpoint it is about; the visitor can then run the other one on the same haystack."""
    from playwright.sync_api import expect

    with app_page(app_url[0]) as page:
        page.get_by_role("button", name="▶ Reasoning reads the other fact · 920 tokens").click()
        verdict = page.locator("#verdict")
        expect(verdict).to_contain_text("another fact's room", timeout=120_000)
        expect(verdict).to_contain_text("rmt-minilm-babi")
        expect(page.get_by_role("radio", name="rmt-minilm-babi")).to_be_checked()
        page.get_by_role("radio", name="rmt-minilm-reasoning").check()
        page.get_by_role("button", name="Run RMT").click()
        n = segments_of("reasoning", 920, 0)
        expect(page.locator("#status")).to_contain_text(f"done · segment {n} of {n} · 920 tokens", timeout=120_000)
        expect(page.locator("#status")).to_contain_text("rmt-minilm-reasoning")
        expect(verdict).to_contain_text("rmt-minilm-reasoning answered")
