"""`make screenshots`: the hosted privacy page on a phone (390 px) and a desktop, as PNGs for the docs.

It starts the local stack as `make run` does (tests.test_local_stack.LocalStack) and opens the demo team's page
in headless Chromium (tests/browser.py), with the erasure form open to show one right's fields."""
import base64
import pathlib

from selenium.webdriver.common.by import By

from tests.browser import DESKTOP, PHONE, at_width, chromium
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
    finally:
        if driver is not None:
            driver.quit()
        stack.stop()


if __name__ == "__main__":
    main()
