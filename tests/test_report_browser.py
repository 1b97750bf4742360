"""The tiny study's report.html in a real browser (headless Chromium): what a reader sees."""

import pytest

from report_browser import (CHROMEDRIVER, CHROMIUM, box, chromium, console_errors, load_every_result, open_report,
                            sideways_overflow)

pytestmark = [
    pytest.mark.workflow,
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="needs Debian's chromium and chromium-driver (.ci/run installs them)"),
]


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


def test_the_front_page_shows_the_answer_in_view(study, browser, tmp_path_factory):
    text = open_report(browser, study / "results/report.html", "Answer (on")
    assert "Why is the posted PyTorch model worse" in text and "What to do" in text
    # In view, not cut off above the scroll range (Snakemake centres a description taller than the window).
    tops = browser.execute_script(
        "return [...document.querySelectorAll('div.document h1')].map(h => h.getBoundingClientRect().top)")
    assert tops and min(tops) >= 0, tops
    shot = tmp_path_factory.mktemp("browser") / "report.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 20_000


def users_answer(browser):
    """The answer in the user's words (its first paragraph) and the user's figures, as the page shows them."""
    paragraph = browser.find_element("xpath", "//p[strong[starts-with(normalize-space(.), 'What is wrong.')]]")
    # The front page carries the figures twice, four panels in a row and two: the screen's width shows one.
    shown = [img for img in browser.find_elements("css selector", ".prose img[src^='data:image/png']")
             if img.is_displayed()]
    assert len(shown) == 1, len(shown)
    return paragraph, shown[0]


@pytest.mark.parametrize("width, height", [(1366, 768), (390, 844)], ids=["laptop", "phone"])
def test_the_users_answer_and_figures_read_without_scrolling_sideways(study, width, height, tmp_path_factory):
    """At 1366 × 768 the answer in the user's words and their figures are on the first screen; on a phone
    they fit the width. Nothing of the front page needs scrolling sideways at either size."""
    with chromium(width, height, mobile=width < 760) as browser:
        open_report(browser, study / "results/report.html", "What is wrong.")
        paragraph, figure = users_answer(browser)
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", figure) > 0
        text_box, figure_box = box(browser, paragraph), box(browser, figure)
        for top, bottom, left, right in (text_box, figure_box):
            assert 0 <= left and right <= width, (text_box, figure_box)
        if width > 760:
            assert 0 <= text_box[0] and text_box[1] <= height, text_box  # the whole paragraph
            assert figure_box[0] < height and figure_box[1] <= height, figure_box  # the whole figure
            assert figure_box[3] - figure_box[2] > 0.5 * width  # wide enough to read
        else:
            assert figure_box[3] - figure_box[2] > 0.85 * width
            assert "phone-only" in figure.get_attribute("class")  # the two-column layout
        assert sideways_overflow(browser) == 0
        shot = tmp_path_factory.mktemp("browser") / f"front-{width}.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 20_000


def test_every_figure_and_table_is_listed_and_loads(study, browser):
    open_report(browser, study / "results/report.html", "Answer (on")
    results = load_every_result(browser)
    broken = {path: status for path, status in results.items() if status != "ok"}
    assert not broken
    figures = {p for p in results if p.startswith("results/figures/")}
    tables = {p for p in results if p.startswith("results/report/") and p.endswith(".html")}
    from gapstudy import registry

    # The tiny config runs lock-step and common-random-numbers pairs and another draw: every page and figure.
    assert figures == {registry.figure(name) for name in registry.FIGURES}
    assert tables == {registry.page(name) for name in registry.PAGES}
    # Every result sits in a category of the menu, and clicking through the menu reaches each one.
    categories = browser.execute_script("return categories")
    labels = browser.execute_script(
        "return Object.fromEntries(Object.entries(results).map(([k, v]) => [k, Object.values(v.labels)]))")
    listed = {path for sub in categories.values() for paths in sub.values() for path in paths}
    assert listed == set(results)
    reached = set()
    for category, subcategories in categories.items():
        for subcategory, paths in subcategories.items():
            open_report(browser, study / "results/report.html", "Answer (on")
            click(browser, category)
            if len(subcategories) > 1 or subcategory != "Other":  # a lone "Other" opens directly
                click(browser, subcategory)
            shown = browser.find_element("tag name", "body").text
            reached |= {p for p in paths if all(str(label) in shown for label in labels[p])}
    assert reached == set(results)


def click(browser, text):
    browser.find_element("xpath", f"//*[normalize-space(text())='{text}']").click()


def test_the_browser_console_shows_no_errors(study, browser):
    open_report(browser, study / "results/report.html", "Answer (on")
    load_every_result(browser)
    assert console_errors(browser) == []


def test_the_catalogue_report_shows_its_ranked_table_and_every_result_loads(catalogue, browser):
    from gapstudy.studies.catalogue import paths, stories
    from gapstudy.studies.catalogue.figures import FIGURES
    from gapstudy.studies.catalogue.pages import PAGES

    report = catalogue / paths.REPORT
    text = open_report(browser, report, "The catalogue, ranked")
    assert "PyTorch ↔ Keras porting pitfalls" in text and "first divergence (step, tensor)" in text
    for story in stories.STORIES.values():
        assert story.source in text
    tops = browser.execute_script(
        "return [...document.querySelectorAll('div.document h1')].map(h => h.getBoundingClientRect().top)")
    assert tops and min(tops) >= 0, tops
    # The shared layout (report/layout.rst): the page takes the window, its wide ranked table scrolls in its own box.
    assert sideways_overflow(browser) == 0
    assert browser.execute_script("return document.querySelector('.prose').getBoundingClientRect().width") > 800
    results = load_every_result(browser)
    assert {path: status for path, status in results.items() if status != "ok"} == {}
    assert {p for p in results if p.endswith(".png")} == {paths.figure(name) for name in FIGURES}
    assert {p for p in results if p.endswith(".html")} == {paths.page(name) for name in [*PAGES, "provenance"]}
    assert console_errors(browser) == []
