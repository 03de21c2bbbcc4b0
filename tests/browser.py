"""A real browser for tests: Debian's headless Chromium driven by selenium, with axe-core for accessibility.

Any page set can use it (the privacy pages today, an account console later):

    from tests.browser import chromium, axe_violations, scrolls_sideways, at_width

`make browser` installs Chromium, its driver and axe-core (.browser/node_modules) when they are missing."""
import json
import pathlib
import shutil
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
AXE = ROOT / ".browser" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Headless as root in a container, and nothing reaching the internet (updates, sync, QUIC probes).
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage")
PHONE, DESKTOP = (390, 844), (1280, 900)
BLOCKING = ("critical", "serious")


def _missing() -> list[str]:
    return [str(path) for path in (CHROMIUM, DRIVER, AXE) if not pathlib.Path(path).exists()]


def chromium(javascript: bool = True):
    """A fresh headless Chromium (its own profile); the caller quits it."""
    missing = _missing()
    if missing:
        pytest.fail(f"no browser to test with: {', '.join(missing)} missing; run `make browser`")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    quit_ = driver.quit

    def quit_and_clean():
        quit_()
        shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean
    return driver


def at_width(driver, size: tuple[int, int]) -> None:
    """Lay pages out as a device of this size would (CSS pixels), phone or desktop."""
    width, height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def axe_violations(driver, impacts=BLOCKING) -> list[dict]:
    """axe-core's violations of the current page at these impacts: [{id, impact, help, nodes: [selector]}]."""
    driver.execute_script(AXE.read_text())
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(JSON.stringify(r.violations)));")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]]} for v in json.loads(found) if v["impact"] in impacts]


def next_page(driver, before, seconds: float = 15) -> None:
    """Waits until the page `before` (its <html> element) was replaced by a fully loaded one.

    selenium's staleness_of asks Chromium about the old element; asked while the navigation swaps documents,
    chromedriver may answer "Node with given id does not belong to the document" instead of "stale": that
    answer means the same thing here."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def replaced(_driver) -> bool:
        try:
            before.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    WebDriverWait(driver, seconds).until(replaced)
    WebDriverWait(driver, seconds).until(lambda d: d.execute_script("return document.readyState") == "complete")


def scrolls_sideways(driver) -> bool:
    return driver.execute_script(
        "return document.documentElement.scrollWidth > document.documentElement.clientWidth;")


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def browser_without_javascript():
    driver = chromium(javascript=False)
    yield driver
    driver.quit()
