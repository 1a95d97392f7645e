"""The widget's layout on the demo article, guarded by a committed baseline screenshot.

The comparison allows small rendering noise: a pixel counts as different when a colour channel
moved by more than 24 of 255, and the test fails when more than 2% of the pixels differ, or when
the widget's size changed by more than the one pixel a fractional position can round to.
Relative times ("2 seconds ago") change with the clock: for the screenshot only, they get a fixed
width and are masked. The baseline was made with Debian 12's Chromium and the DejaVu fonts
(`make browser`).

UPDATE_SNAPSHOTS=1 writes the current rendering as the new baseline; review it and commit it.
When the test fails, the new rendering and a diff (differences in red) are written to the test's
temporary directory, and their paths are in the failure message.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.support import compare_images, diff_image, open_article

pytestmark = pytest.mark.usefixtures("widget_available")

BASELINES = Path(__file__).parent / "baselines"
MAX_DIFFERING = 0.02
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"


def test_widget_layout_matches_the_baseline(page, server, tmp_path):
    widget = open_article(page, server)
    # The finished widget: the Inline Feedbacks module (loaded after the thread) has added its
    # button, so the shot does not depend on how fast that file came.
    expect(widget.get_by_role("button", name="Inline Feedbacks")).to_be_visible()
    widget.get_by_role("button", name="Close", exact=True).click()  # the first-visit bubble
    expect(widget.get_by_text("Would love your thoughts, please comment.")).to_have_count(0)
    page.mouse.move(0, 0)
    # A constructed style sheet: the demo page's CSP refuses a <style> element it does not know.
    widget.evaluate(
        """host => {
            const sheet = new CSSStyleSheet();
            sheet.replaceSync("time { display: inline-block !important; width: 7em !important;"
                + " overflow: hidden !important; white-space: nowrap !important; }");
            host.shadowRoot.adoptedStyleSheets = [...host.shadowRoot.adoptedStyleSheets, sheet];
        }"""
    )
    page.evaluate("document.fonts.ready")
    shot = widget.screenshot(
        animations="disabled",
        caret="hide",
        mask=[widget.locator("time")],
        mask_color="#888888",
    )
    baseline = BASELINES / "widget-demo-article.png"
    if UPDATE or not baseline.exists():
        BASELINES.mkdir(exist_ok=True)
        baseline.write_bytes(shot)
        if not UPDATE:
            pytest.fail(f"No baseline yet; wrote {baseline}: review it, commit it, run again.")
        return
    difference = compare_images(baseline, shot)
    if difference.size_matches and difference.fraction <= MAX_DIFFERING:
        return
    actual = tmp_path / "widget-demo-article.actual.png"
    actual.write_bytes(shot)
    diff = tmp_path / "widget-demo-article.diff.png"
    diff_image(baseline, shot).save(diff)
    what = (
        f"{difference.fraction:.2%} of the pixels differ (at most {MAX_DIFFERING:.0%})"
        if difference.size_matches
        else "the widget's size changed"
    )
    pytest.fail(
        f"The widget no longer looks like {baseline.name}: {what}.\n"
        f"New rendering: {actual}\nDifferences in red: {diff}\n"
        "If the change is intended: UPDATE_SNAPSHOTS=1 make test, review, commit the baseline.",
        pytrace=False,
    )
