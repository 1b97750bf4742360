"""Open a Snakemake report in headless Chromium: what a reader's browser shows, and its console.

Used by tests/test_report_browser.py, and to refresh the README's screenshot:

    .venv/bin/python tests/report_browser.py results/report.html docs/report.png
    .venv/bin/python tests/report_browser.py results/catalogue/report.html docs/catalogue.png "The catalogue, ranked"

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them).
"""

from __future__ import annotations

import shutil
import sys
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")

# Every result's data URI, loaded the way the report loads it; images must decode.
LOAD_RESULTS = """
const done = arguments[arguments.length - 1];
const checks = Object.entries(results).map(([path, r]) => new Promise(resolve => {
  if (r.mime_type.startsWith("image/")) {
    const img = new Image();
    img.onload = () => resolve([path, img.naturalWidth > 0 ? "ok" : "empty image"]);
    img.onerror = () => resolve([path, "image did not load"]);
    img.src = r.data_uri;
  } else {
    fetch(r.data_uri).then(x => x.text())
      .then(t => resolve([path, t.length > 0 ? "ok" : "empty"]))
      .catch(e => resolve([path, "did not load: " + e]));
  }
}));
Promise.all(checks).then(done);
"""


@contextmanager
def chromium(width: int = 1400, height: int = 1000, mobile: bool = False):
    """Headless Chromium whose page area is ``width`` × ``height`` CSS pixels (``mobile``: as a phone shows it)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    # The window size includes the browser's own frame: set the page area itself.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
    try:
        yield driver
    finally:
        driver.quit()


def open_report(driver, report: Path, expect: str, timeout: float = 60) -> str:
    """Load the report and wait until its front page shows ``expect``; return the page's text."""
    driver.get(Path(report).resolve().as_uri())
    deadline = time.time() + timeout
    while True:
        text = driver.find_element("tag name", "body").text
        if expect in text:
            driver.execute_script("window.scrollTo(0, 0); document.querySelectorAll('*').forEach(e => e.scrollTop = 0);")
            return text
        if time.time() > deadline:
            raise TimeoutError(f"the report did not show {expect!r} within {timeout} s; it shows:\n{text[:2000]}")
        time.sleep(0.2)


def load_every_result(driver) -> dict[str, str]:
    """Each result of the report and whether its content loads in the browser ("ok" or why not)."""
    driver.set_script_timeout(120)
    return dict(driver.execute_async_script(LOAD_RESULTS))


def console_errors(driver) -> list[dict]:
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


# Where an element of the page lies in the window: [top, bottom, left, right] in CSS pixels.
BOX = "const r = arguments[0].getBoundingClientRect(); return [r.top, r.bottom, r.left, r.right];"


def box(driver, element) -> list[float]:
    return driver.execute_script(BOX, element)


def sideways_overflow(driver) -> int:
    """How many CSS pixels the widest scrolling box of the page is wider than its window (0: nothing to scroll sideways)."""
    return driver.execute_script(
        "const page = document.querySelector('.prose').closest('.overflow-auto');"
        "return Math.max(0, page.scrollWidth - page.clientWidth,"
        " document.documentElement.scrollWidth - window.innerWidth);")


if __name__ == "__main__":
    # report.html shot.png [expected text] [WIDTHxHEIGHT]: the catalogue's expected text is "The catalogue, ranked";
    # a phone's size, 390x844, takes its screenshot as a phone shows the page.
    report, shot = Path(sys.argv[1]), Path(sys.argv[2])
    expect = sys.argv[3] if len(sys.argv) > 3 else "Answer"
    width, height = (int(n) for n in (sys.argv[4] if len(sys.argv) > 4 else "1366x768").split("x"))
    with chromium(width, height, mobile=width < 760) as browser:
        open_report(browser, report, expect)
        time.sleep(1)
        browser.save_screenshot(str(shot))
    print(f"saved {shot}")
