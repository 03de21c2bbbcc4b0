"""Issue 16 in a real browser: the account console served by the local stack (`make run`), signed in to by the
emailed link, an erasure executed through ▷ and confirm, the settings edited; every page accessible (axe-core),
usable by keyboard, and phone-sized; and the same without JavaScript."""
import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser import (DESKTOP, PHONE, at_width, axe_violations, browser, browser_without_javascript, next_page,
                           scrolls_sideways)
from tests.test_local_stack import Http, link

__all__ = ["browser", "browser_without_javascript"]  # fixtures, imported for pytest
ADMIN = "admin@demo.example"  # the demo team's admin (devtools/stack.py)


class Desk:
    """The stack's demo team, with clients' verified requests to work on."""

    def __init__(self, stack):
        self.stack, self.http, self.team = stack, Http(stack.api), stack.team_id
        self.url = f"{stack.api}/console"

    def verified_request(self, email: str, kind: str = "erasure") -> str:
        status, body = self.http.post(f"/portal/{self.team}/privacy/requests", {"email": email, "type": kind})
        assert status == 202, body
        mail = self.http.wait_for_mail(email, lambda m: link(m, "/portal/privacy/verify/"), "verification")
        assert self.http.get(link(mail, "/portal/privacy/verify/"))[0] == 200
        return body["request_id"]

    def dossier(self, email: str) -> None:
        status, body = self.http.post(f"/teams/{self.team}/dossiers", {"client_email": email, "title": "File", "consent": {"accepted": True}},
                                      token=self.stack.admin_token)
        assert status == 201, body

    def request(self, request_id: str) -> dict:
        return self.http.get(f"/teams/{self.team}/privacy/requests/{request_id}", token=self.stack.admin_token)[1]


@pytest.fixture(scope="module")
def desk(stack):
    return Desk(stack)


def click_and_load(driver, element) -> None:
    before = driver.find_element(By.TAG_NAME, "html")
    element.click()
    next_page(driver, before)


def sign_in(driver, desk, email: str = ADMIN) -> None:
    """As a person does: the email field, the emailed link, the button on its page."""
    seen = len([m for m in desk.http.outbox() if email in m["to"] and link(m, "/console/sign-in/")])
    driver.get(desk.url)
    driver.find_element(By.NAME, "email").send_keys(email)
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, "button[data-action=sign-in]"))
    assert "Check your email" in driver.find_element(By.TAG_NAME, "h1").text
    mail = desk.http.wait_for_mail(
        email, lambda m: link(m, "/console/sign-in/") and
        len([x for x in desk.http.outbox() if email in x["to"] and link(x, "/console/sign-in/")]) > seen, "sign-in link")
    driver.get(link(mail, "/console/sign-in/"))
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, "button[data-action=sign-in-link]"))


@pytest.fixture(scope="module")
def signed_in(browser, desk):
    sign_in(browser, desk)
    assert "Privacy requests" in browser.find_element(By.TAG_NAME, "h1").text
    return browser


def test_signing_in_by_the_emailed_link_lands_on_the_requests(signed_in, desk):
    assert signed_in.current_url.startswith(f"{desk.url}/teams/{desk.team}/requests")


def test_an_erasure_is_executed_through_execute_then_confirm(signed_in, desk):
    desk.dossier("erase-me@client.example")
    request_id = desk.verified_request("erase-me@client.example")
    signed_in.get(f"{desk.url}/teams/{desk.team}/requests")
    row = signed_in.find_element(By.CSS_SELECTOR, f"tr[data-request-id={request_id}]")
    row.find_element(By.CSS_SELECTOR, "[data-action=execute]").click()
    dialog = signed_in.find_element(By.ID, f"dialog-{request_id}")
    assert dialog.get_attribute("open") is not None  # the dialog, not the confirmation page
    assert desk.request(request_id)["status"] == "pending"  # nothing runs before confirming
    click_and_load(signed_in, dialog.find_element(By.CSS_SELECTOR, "[data-action=confirm]"))
    WebDriverWait(signed_in, 30).until(lambda d: d.find_element(
        By.CSS_SELECTOR, f"tr[data-request-id={request_id}]").get_attribute("data-status") == "completed")
    assert desk.request(request_id)["status"] == "completed"


def test_the_settings_are_edited_from_their_page(signed_in, desk):
    signed_in.get(f"{desk.url}/teams/{desk.team}/settings")
    text = signed_in.find_element(By.NAME, "consent_text")
    text.clear()
    text.send_keys("I agree that my documents are kept for my file.")
    box = signed_in.find_element(By.NAME, "consent_capture_enabled")
    if not box.is_selected():
        box.click()
    click_and_load(signed_in, signed_in.find_element(By.CSS_SELECTOR, "[data-action=save-settings]"))
    assert signed_in.find_element(By.CSS_SELECTOR, ".notice").text
    settings = desk.http.get(f"/teams/{desk.team}/privacy/settings", token=desk.stack.admin_token)[1]
    assert settings["consent_text"] == "I agree that my documents are kept for my file."
    assert settings["consent_capture_enabled"] is True


def test_the_dialog_opens_and_closes_by_keyboard(signed_in, desk):
    request_id = desk.verified_request("keys@client.example")
    signed_in.get(f"{desk.url}/teams/{desk.team}/requests")
    button = signed_in.find_element(By.CSS_SELECTOR, f"tr[data-request-id={request_id}] [data-action=execute]")
    body = signed_in.find_element(By.TAG_NAME, "body")
    for _ in range(80):  # Tab through the page until the ▷ of this row has the focus
        if signed_in.switch_to.active_element == button:
            break
        body.send_keys(Keys.TAB) if _ == 0 else signed_in.switch_to.active_element.send_keys(Keys.TAB)
    assert signed_in.switch_to.active_element == button
    button.send_keys(Keys.ENTER)
    dialog = signed_in.find_element(By.ID, f"dialog-{request_id}")
    assert dialog.get_attribute("open") is not None
    signed_in.switch_to.active_element.send_keys(Keys.ESCAPE)
    assert dialog.get_attribute("open") is None
    assert desk.request(request_id)["status"] == "pending"


def test_without_javascript_execute_leads_to_a_confirmation_page(browser_without_javascript, desk):
    driver = browser_without_javascript
    sign_in(driver, desk)
    desk.dossier("nojs@client.example")
    request_id = desk.verified_request("nojs@client.example")
    driver.get(f"{desk.url}/teams/{desk.team}/requests")
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, f"tr[data-request-id={request_id}] [data-action=execute]"))
    assert driver.current_url.endswith(f"/requests/{request_id}/execute")
    click_and_load(driver, driver.find_element(By.CSS_SELECTOR, "[data-action=confirm]"))
    assert re.search(rf"{request_id}", driver.find_element(By.CSS_SELECTOR, "main").text)
    WebDriverWait(driver, 30, poll_frequency=0.5).until(lambda _: desk.request(request_id)["status"] == "completed")


# --- every page: accessible, and no sideways scrolling on a phone --------------------------------------------------

@pytest.fixture(scope="module")
def pages(signed_in, desk):
    request_id = desk.verified_request("pages@client.example", "restriction")
    base = f"{desk.url}/teams/{desk.team}"
    return {"requests": f"{base}/requests", "request": f"{base}/requests/{request_id}",
            "confirm": f"{base}/requests/{request_id}/execute", "settings": f"{base}/settings",
            "members": f"{base}/members", "systems": f"{base}/systems"}


@pytest.mark.parametrize("name", ["requests", "request", "confirm", "settings", "members", "systems"])
@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_every_page_is_accessible_and_fits(signed_in, pages, name, size):
    at_width(signed_in, size)
    signed_in.get(pages[name])
    for details in signed_in.find_elements(By.CSS_SELECTOR, "details"):
        signed_in.execute_script("arguments[0].open = true", details)
    assert axe_violations(signed_in) == []
    assert not scrolls_sideways(signed_in)


def test_the_sign_in_pages_are_accessible_and_fit(browser, desk):
    """The sign-in page and the "check your email" page, seen signed out (the session's cookie is put back)."""
    kept = browser.get_cookies()
    browser.delete_all_cookies()
    try:
        at_width(browser, PHONE)
        browser.get(desk.url)
        assert axe_violations(browser) == [] and not scrolls_sideways(browser)
        browser.find_element(By.NAME, "email").send_keys("stranger@elsewhere.example")
        click_and_load(browser, browser.find_element(By.CSS_SELECTOR, "button[data-action=sign-in]"))
        assert "Check your email" in browser.find_element(By.TAG_NAME, "h1").text
        assert axe_violations(browser) == [] and not scrolls_sideways(browser)
    finally:
        browser.delete_all_cookies()
        for cookie in kept:
            browser.add_cookie(cookie)
