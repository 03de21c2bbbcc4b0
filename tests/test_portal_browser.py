"""Issue 17 in a real browser: the hosted privacy page served by the local stack (`make run`), used from the
page itself, framed by a listed origin, and with JavaScript off; accessible and phone-sized."""
import http.server
import re
import threading

import pytest
from selenium.webdriver.common.by import By

from tests.browser import (PHONE, at_width, axe_violations, browser, browser_without_javascript, next_page,
                           scrolls_sideways)
from tests.test_local_stack import Http, free_port, link

__all__ = ["browser", "browser_without_javascript"]  # fixtures, imported for pytest


class Site:
    """Another site on 127.0.0.1 (its own origin) whose one page frames the privacy page with the snippet."""

    def __init__(self, html: str):
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        body = html.encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def snippet(api: str, team_id: str) -> str:
    return (f'<iframe src="{api}/portal/{team_id}/privacy" title="Privacy" data-privacy-desk></iframe>'
            f'<script src="{api}/portal/assets/embed.js" async></script>')


@pytest.fixture(scope="module")
def portal(stack):
    """The stack's team, with one listed site framing its page and one unlisted site trying to."""
    http = Http(stack.api)
    page = f"<!doctype html><html lang='en'><title>Team site</title><main>{snippet(stack.api, stack.team_id)}</main>"
    listed, unlisted = Site(page), Site(page)
    status, body = http.patch(f"/teams/{stack.team_id}/privacy/settings",
                              {"embed_origins": [listed.origin], "locales": ["en", "fr"]}, token=stack.admin_token)
    assert status == 200, body
    yield type("Portal", (), {"http": http, "stack": stack, "listed": listed, "unlisted": unlisted,
                              "url": f"{stack.api}/portal/{stack.team_id}/privacy"})
    listed.stop()
    unlisted.stop()


def submit(driver, right: str, email: str) -> None:
    """Fill in one right's form and send it, as a person does; returns once the next page has loaded."""
    driver.find_element(By.CSS_SELECTOR, f"#right-{right} summary").click()
    driver.find_element(By.ID, f"email-{right}").send_keys(email)
    before = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.CSS_SELECTOR, f"#right-{right} button[type=submit]").click()
    next_page(driver, before, seconds=10)


def verification_sent(portal, email: str) -> dict:
    return portal.http.wait_for_mail(email, lambda m: link(m, "/portal/privacy/verify/"), "verification email")


def test_submitting_from_the_hosted_page_sends_the_verification_email(browser, portal):
    browser.get(portal.url)
    submit(browser, "erasure", "hosted@client.example")
    assert "Check your inbox" in browser.find_element(By.TAG_NAME, "h1").text
    assert verification_sent(portal, "hosted@client.example")


def test_submitting_from_a_page_framing_it_on_a_listed_origin_sends_the_verification_email(browser, portal):
    browser.get(portal.listed.origin)
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe[data-privacy-desk]"))
    try:
        submit(browser, "access", "framed@client.example")
        assert "Check your inbox" in browser.find_element(By.TAG_NAME, "h1").text
    finally:
        browser.switch_to.default_content()
    assert verification_sent(portal, "framed@client.example")


def test_the_frame_on_a_listed_origin_takes_the_height_of_its_page(browser, portal):
    browser.get(portal.listed.origin)
    frame = browser.find_element(By.CSS_SELECTOR, "iframe[data-privacy-desk]")
    browser.implicitly_wait(0)
    for _ in range(50):  # the page reports its height once loaded
        if frame.size["height"] > 300:
            break
        browser.execute_script("return new Promise(r => setTimeout(r, 100));")
    assert frame.size["height"] > 300  # an unsized iframe is 150 px tall


def test_an_unlisted_origin_cannot_frame_the_page(browser, portal):
    browser.get(portal.unlisted.origin)
    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe[data-privacy-desk]"))
    try:
        assert browser.find_elements(By.CSS_SELECTOR, "form") == []
        assert not browser.execute_script("return location.href").startswith(portal.stack.api)
    finally:
        browser.switch_to.default_content()


def test_submitting_with_javascript_off_sends_the_verification_email(browser_without_javascript, portal):
    driver = browser_without_javascript
    driver.get(portal.url)
    submit(driver, "rectification", "nojs@client.example")
    assert "Check your inbox" in driver.find_element(By.TAG_NAME, "h1").text
    assert verification_sent(portal, "nojs@client.example")


# --- every client page: accessible, and no sideways scrolling on a phone ---------------------------------------------

@pytest.fixture(scope="module")
def client_pages(portal):
    """The URL of every page a client (or a system's owner) opens, for one access and one erasure request."""
    http, team, admin = portal.http, portal.stack.team_id, portal.stack.admin_token
    assert http.put(f"/teams/{team}/privacy/systems/crm", {"name": "CRM", "kind": "manual",
                                                           "owner_email": "crm-owner@team.example"},
                    token=admin)[0] in (200, 201)
    pages = {"privacy": portal.url}
    for email, kind in (("pages@client.example", "access"), ("erased@client.example", "erasure"),
                        ("pending@client.example", "objection")):
        http.post(f"/portal/{team}/privacy/requests", {"email": email, "type": kind})
        verify = link(verification_sent(portal, email), "/portal/privacy/verify/")
        pages.setdefault("verification", verify)
        assert http.get(verify)[0] == 200
        receipt = http.wait_for_mail(email, lambda m: link(m, "/portal/privacy/requests/"), "receipt")
        status_url = link(receipt, "/portal/privacy/requests/")
        if kind == "objection":  # left pending: the one that can still be cancelled
            path, _, query = status_url.partition("?")
            pages.update(status=status_url, cancel=f"{path}/cancel?{query}")
            continue
        request_id = re.search(r"/requests/(r_\w+)", status_url).group(1)
        status, body = http.post(f"/teams/{team}/privacy/requests/{request_id}/execute", {"confirm": True},
                                 token=admin)
        assert status in (200, 202), body
    export = http.wait_for_mail("pages@client.example", lambda m: link(m, "/portal/privacy/exports/"), "export")
    pages["export"] = link(export, "/portal/privacy/exports/")
    task = http.wait_for_mail("crm-owner@team.example", lambda m: link(m, "/privacy/tasks/"), "task")
    pages["task"] = link(task, "/privacy/tasks/")
    return pages


# Each page's heading, so a test can't pass on an error page instead.
PAGES = {"privacy": "Your privacy rights", "receipt": "Check your inbox", "verification": "your request is confirmed",
         "status": "Your objection", "cancel": "Cancel your request?", "export": "Your data export",
         "task": "Erasure to carry out in CRM"}


def open_page(driver, portal, client_pages, name):
    if name == "receipt":
        driver.get(portal.url)
        submit(driver, "objection", "receipt@client.example")
    else:
        driver.get(client_pages[name])
    assert PAGES[name] in driver.find_element(By.TAG_NAME, "h1").text


@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_critical_or_serious_violation(browser, portal, client_pages, name):
    at_width(browser, PHONE)
    open_page(browser, portal, client_pages, name)
    assert axe_violations(browser) == []


@pytest.mark.parametrize("name", PAGES)
def test_no_page_scrolls_sideways_on_a_390_px_phone(browser, portal, client_pages, name):
    at_width(browser, PHONE)
    open_page(browser, portal, client_pages, name)
    for details in browser.find_elements(By.CSS_SELECTOR, "details"):
        browser.execute_script("arguments[0].open = true", details)
    assert not scrolls_sideways(browser)
