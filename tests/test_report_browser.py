"""The tiny study's report.html in a real browser (headless Chromium): what a reader sees."""

import pytest

from report_browser import CHROMEDRIVER, CHROMIUM, chromium, console_errors, load_every_result, open_report

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
    from gapstudy.catalogue import paths, stories
    from gapstudy.catalogue.figures import FIGURES
    from gapstudy.catalogue.pages import PAGES

    report = catalogue / paths.REPORT
    text = open_report(browser, report, "The catalogue, ranked")
    assert "PyTorch ↔ Keras porting pitfalls" in text and "first divergence (step, tensor)" in text
    for story in stories.STORIES.values():
        assert story.source in text
    tops = browser.execute_script(
        "return [...document.querySelectorAll('div.document h1')].map(h => h.getBoundingClientRect().top)")
    assert tops and min(tops) >= 0, tops
    results = load_every_result(browser)
    assert {path: status for path, status in results.items() if status != "ok"} == {}
    assert {p for p in results if p.endswith(".png")} == {paths.figure(name) for name in FIGURES}
    assert {p for p in results if p.endswith(".html")} == {paths.page(name) for name in [*PAGES, "provenance"]}
    assert console_errors(browser) == []
