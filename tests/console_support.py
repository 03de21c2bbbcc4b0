"""A person at the console, through Chalice's test client: keeps the session cookie like a browser, sends our
Origin with form posts like a browser, and fills in the page's CSRF token from the last page it read."""
import html
import re
import urllib.parse

ORIGIN = "http://127.0.0.1:8000"  # the local stage's PUBLIC_BASE_URL


class Console:
    def __init__(self, api):
        self.api = api
        self.cookies: dict[str, str] = {}
        self.page = ""

    def _headers(self, extra: dict | None = None) -> dict:
        headers = {"Accept": "text/html"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        headers.update(extra or {})
        return headers

    def _keep(self, answer):
        values = answer.headers.get("Set-Cookie") or answer.headers.get("set-cookie")
        for value in values if isinstance(values, list) else ([values] if values else []):
            name, _, rest = value.partition("=")
            cookie_value = rest.split(";")[0]
            if "Max-Age=0" in value or not cookie_value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = cookie_value
        if answer.headers.get("Content-Type", "").startswith("text/html"):
            self.page = answer.body.decode()
        return answer

    def get(self, path: str, headers: dict | None = None):
        answer = self.api.client.http.request("GET", path, headers=self._headers(headers), body=b"")
        return self._keep(answer)

    def post(self, path: str, fields=(), origin: str | None = ORIGIN, csrf: bool = True, headers: dict | None = None):
        pairs = list(fields.items()) if isinstance(fields, dict) else list(fields)
        if csrf and self.csrf_token() and not any(name == "csrf_token" for name, _ in pairs):
            pairs.append(("csrf_token", self.csrf_token()))
        sent = {"Content-Type": "application/x-www-form-urlencoded"}
        if origin is not None:
            sent["Origin"] = origin
        sent.update(headers or {})
        answer = self.api.client.http.request("POST", path, headers=self._headers(sent),
                                              body=urllib.parse.urlencode(pairs).encode())
        return self._keep(answer)

    def csrf_token(self) -> str | None:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.page)
        return html.unescape(found.group(1)) if found else None

    def follow(self, answer):
        """Where a 303 sends the browser."""
        assert answer.status_code in (302, 303), (answer.status_code, answer.body[:500])
        location = answer.headers["Location"]
        return self.get(location.replace(ORIGIN, "") if location.startswith(ORIGIN) else location)

    def ask_link(self, email: str):
        self.get("/console")
        return self.post("/console/sign-in", {"email": email}, csrf=False)

    def sign_in(self, email: str):
        """Asks for a link, opens it (GET shows), presses the button (POST signs in); returns the landing page."""
        self.ask_link(email)
        link = self.api.last_link_to(email, "/console/sign-in/")
        assert self.get(link).status_code == 200
        return self.settle(self.post(link, csrf=False))

    def settle(self, answer):
        """Follows redirects as a browser does, to the page at the end."""
        while answer.status_code in (302, 303):
            answer = self.follow(answer)
        return answer

    def text(self) -> str:
        return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", self.page)))
