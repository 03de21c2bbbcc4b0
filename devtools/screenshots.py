"""`make screenshots`: the real pages as PNGs for the docs — the hosted privacy page on a phone (390 px) and a
desktop, and the account console's requests queue and settings.

It starts the local stack as `make run` does (tests.test_local_stack.LocalStack) and opens the demo team's pages
in headless Chromium (tests/browser.py): the privacy page with the erasure form open to show one right's fields;
the console signed in by the emailed link, with a few clients' requests waiting."""
import base64
import pathlib

from selenium.webdriver.common.by import By

from tests.browser import DESKTOP, PHONE, at_width, chromium
from tests.test_console_browser import Desk, sign_in
from tests.test_local_stack import LocalStack

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHOTS = {"phone": PHONE, "desktop": DESKTOP}


def capture(driver, path: pathlib.Path) -> None:
    """The whole page, not only the viewport."""
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
    path.write_bytes(base64.b64decode(shot["data"]))


def main() -> None:
    stack = LocalStack()
    driver = None
    try:
        stack.wait_ready()
        driver = chromium()
        for name, size in SHOTS.items():
            at_width(driver, size)
            driver.get(f"{stack.api}/portal/{stack.team_id}/privacy")
            driver.find_element(By.CSS_SELECTOR, "#right-erasure summary").click()
            path = ROOT / "docs" / f"privacy-page-{name}.png"
            capture(driver, path)
            print(f"wrote {path.relative_to(ROOT)}")
        console(driver, Desk(stack))
    finally:
        if driver is not None:
            driver.quit()
        stack.stop()


def console(driver, desk: Desk) -> None:
    """The queue with requests of several kinds (one overdue-looking soon, one extended) and the settings."""
    for email, kind in (("marie.curie@client.example", "erasure"), ("alan@client.example", "access"),
                        ("ada@client.example", "rectification")):
        desk.dossier(email)
        desk.verified_request(email, kind)
    at_width(driver, DESKTOP)
    sign_in(driver, desk)
    for name, path in (("queue", "requests"), ("settings", "settings")):
        driver.get(f"{desk.url}/teams/{desk.team}/{path}")
        target = ROOT / "docs" / f"console-{name}.png"
        capture(driver, target)
        print(f"wrote {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
