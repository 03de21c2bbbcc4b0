"""Calling a team's connected systems: URL rules, Standard Webhooks signatures, and one bounded HTTP POST.

A webhook URL is chosen by a team admin, so the module must never become a way to reach what only it can reach
(SSRF): the instance metadata service, the VPC, localhost. A URL is checked when it is saved (check_url) and
again at each delivery (post), which resolves the name once, refuses unless every address is globally routable,
and connects to the address it checked, so a name that later resolves elsewhere (DNS rebinding) can't switch it.

The local stage also accepts http(s)://127.0.0.1[:port] and http(s)://localhost[:port], for receivers run on
the developer's machine; WEBHOOKS_PUBLIC_ONLY=1 turns that off (it can only tighten, never loosen).
"""
import dataclasses
import datetime as dt
import http.client
import ipaddress
import math
import re
import socket
import ssl
import threading
import time
import unicodedata
import urllib.parse

from . import clock, config
from .errors import BadRequest

FIELD = "body.url"
MAX_URL_LENGTH = 2000
MAX_BODY = 64 * 1024
MAX_EXCERPT = 500
USER_AGENT = "privacy-desk-webhooks/1"
RESOLVE_SECONDS = 5.0  # at PUT: a resolver that hangs must not hold the API call

# Names that mean "this machine" or "this cloud's private network" whatever DNS says.
_REFUSED_NAMES = {"localhost", "metadata", "metadata.google.internal", "instance-data", "kubernetes.default"}
_REFUSED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".intranet", ".lan",
                     ".corp", ".svc", ".cluster.local")
_LOCAL_NAMES = {"localhost", "127.0.0.1"}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("169.254.170.2")}
# An IPv4 address in a form ipaddress refuses but resolvers accept (2130706433, 0x7f.1, 127.1, 0177.0.0.1).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}\.?$")


class DeliveryError(Exception):
    """The event could not be delivered; `reason` says why, in words an officer can act on."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True)
class Answer:
    status: int
    excerpt: str  # at most 500 characters of the body, control characters removed: shown to officers


@dataclasses.dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII (IDNA) host name or IP literal, without brackets
    port: int
    path: str  # path and query, what goes on the request line
    local: bool  # the local stage's loopback exception


def local_allowed() -> bool:
    return config.stage() == "local" and not config.optional("WEBHOOKS_PUBLIC_ONLY")


def check_url(url: str) -> str:
    """`url` if the module may call it (raises BadRequest naming body.url and why otherwise): https, no
    credentials or fragment, at most 2000 characters, and a host whose every address is globally routable.
    An unresolvable name is refused too: nothing could be delivered to it."""
    target = _parse(url, BadRequest)
    if target.local:
        return url
    try:
        addresses = _resolve_before(target, time.monotonic() + RESOLVE_SECONDS)
    except DeliveryError:
        raise _bad(f"the host {target.host} does not resolve (DNS)") from None
    for address in addresses:
        reason = _refusal(address)
        if reason:
            raise _bad(f"the host {target.host} resolves to {address}, {reason}")
    return url


def _bad(why: str) -> BadRequest:
    return BadRequest(f"{FIELD}: {why}", field=FIELD)


def _parse(url, error) -> _Target:
    """The URL's parts, after every check that needs no DNS; `error` is BadRequest (at PUT) or a function
    making a DeliveryError (at delivery)."""
    def fail(why):
        return _bad(why) if error is BadRequest else DeliveryError(f"refused URL: {why}")

    if not isinstance(url, str) or not url:
        raise fail("must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise fail(f"must be at most {MAX_URL_LENGTH} characters")
    if any(c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in url):
        raise fail("must not contain spaces, control or invisible characters")
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise fail(f"is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if "#" in url:
        raise fail("must not have a fragment (#...)")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise fail("must not carry credentials (user:password@); authenticate with the signature instead")
    host = (parts.hostname or "").rstrip(".")  # "localhost." is localhost
    if not host:
        raise fail("must name a host")
    local = local_allowed() and host in _LOCAL_NAMES and scheme in ("http", "https")
    if scheme != "https" and not local:
        raise fail("must start with https:// (events carry personal data)")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    target = _Target(scheme, host, port or (443 if scheme == "https" else 80), path, local)
    if local:
        return target
    if "%" in host:
        raise fail("must not use an IPv6 zone index")
    literal = _ip(host)
    if literal is not None:
        reason = _refusal(literal)
        if reason:
            raise fail(f"{host} is {reason}")
        return target
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise fail(f"the host {host!r} is not a valid domain name") from None
    if _NUMERIC_HOST.match(ascii_host):
        raise fail(f"{host} is an IP address in a non-standard form")
    if ascii_host in _REFUSED_NAMES or ascii_host.endswith(_REFUSED_SUFFIXES):
        raise fail(f"{host} names a local or internal host, not one reachable on the internet")
    if "." not in ascii_host:
        raise fail(f"{host} is not a fully qualified domain name")
    return dataclasses.replace(target, host=ascii_host)


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _refusal(address) -> str | None:
    """Why the module must not connect to this address, or None for a globally routable one."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if ip.version == 6:
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None) \
            or (ipaddress.ip_address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            inner = _refusal(embedded)
            return f"an address embedding {embedded}, {inner}" if inner else None
    if ip in _METADATA:
        return "a cloud metadata address"
    checks = [("loopback", ip.is_loopback), ("unspecified", ip.is_unspecified), ("link-local", ip.is_link_local),
              ("multicast", ip.is_multicast), ("shared address space (CGNAT, 100.64.0.0/10)",
                                               ip.version == 4 and ip in _CGNAT),
              ("private", ip.is_private), ("reserved", ip.is_reserved),
              ("site-local", ip.version == 6 and ip.is_site_local), ("not globally routable", not ip.is_global)]
    for what, hit in checks:
        if hit:
            return f"a {what} address" if not what.startswith("not") else what
    return None


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


# --- signing -------------------------------------------------------------------------------------------------

def valid_secrets(system, now: dt.datetime | None = None) -> list[str]:
    """The secrets that still sign: the current one and any previous one within its day after rotation,
    newest first."""
    moment = now or clock.now()
    out = [entry["secret"] for entry in (system.secrets or [])
           if entry.get("expires_at") is None or clock.parse(entry["expires_at"]) > moment]
    return list(reversed(out))


def signature_headers(system, msg_id: str, timestamp: dt.datetime, payload: str) -> dict:
    """The Standard Webhooks headers of one event: signed with every secret still valid (space-separated
    `v1,...` signatures), so a receiver that has either the new or the old secret during a rotation verifies."""
    from standardwebhooks import Webhook  # on first use: only deliveries need it

    secrets = valid_secrets(system)
    if not secrets:
        raise ValueError(f"system {system.system_id} has no valid signing secret")
    moment = timestamp.astimezone(dt.timezone.utc)  # the package reads the time as UTC whatever its zone
    signatures = [Webhook(secret).sign(msg_id, moment, payload) for secret in secrets]
    return {"webhook-id": msg_id, "webhook-timestamp": str(math.floor(moment.timestamp())),
            "webhook-signature": " ".join(signatures), "content-type": "application/json",
            "user-agent": USER_AGENT}


# --- delivery ------------------------------------------------------------------------------------------------

class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address already checked, whatever the name resolves to now; Host stays the name."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout)
        self._address = address
        # Kept apart from `sock`, which http.client drops once the answer says the connection will close.
        self.socket_in_use = None

    def connect(self):
        self.sock = self.socket_in_use = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPS(_PinnedHTTP):
    def connect(self):
        # Set before the handshake, so the deadline can cut a slow one too.
        self.socket_in_use = raw = socket.create_connection((self._address, self.port), self.timeout)
        try:
            # server_hostname: SNI and the certificate check are for the name, not the address.
            self.sock = self.socket_in_use = ssl.create_default_context().wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def post(url: str, headers: dict, body: bytes, timeout: float = 10.0) -> Answer:
    """POST `body` to `url`; the answer's status and an excerpt of its body, or DeliveryError. `timeout`
    bounds the whole call, DNS to the last byte: a receiver trickling its answer is cut off at it."""
    deadline = time.monotonic() + timeout
    target = _parse(url, DeliveryError)
    addresses = ["127.0.0.1"] if target.local and target.host == "localhost" else None
    if addresses is None:
        addresses = _resolve_before(target, deadline)
        if target.local:
            refused = [a for a in addresses if not ipaddress.ip_address(a).is_loopback]
            if refused:
                raise DeliveryError(f"refused address: {target.host} resolves to {refused[0]}")
        else:
            for address in addresses:
                reason = _refusal(address)
                if reason:
                    raise DeliveryError(f"refused address: {target.host} resolves to {address}, {reason}")
    return _send(target, addresses, headers, body, timeout, deadline)


def _resolve_before(target: _Target, deadline: float) -> list[str]:
    """Resolve in a helper thread so a hanging resolver can't outlast the deadline."""
    literal = _ip(target.host)
    if literal is not None:
        return [str(literal)]
    outcome: dict = {}

    def run():
        try:
            outcome["addresses"] = _resolve(target.host, target.port)
        except Exception as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise DeliveryError(f"timed out resolving {target.host} (DNS)")
    if "error" in outcome:
        raise DeliveryError(f"DNS failure: {target.host} does not resolve ({outcome['error']})")
    if not outcome["addresses"]:
        raise DeliveryError(f"DNS failure: {target.host} has no address")
    return outcome["addresses"]


def _send(target: _Target, addresses: list[str], headers: dict, body: bytes, timeout: float,
          deadline: float) -> Answer:
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    last_error: Exception | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection = kind(target.host, target.port, address, remaining)
        expired = threading.Event()

        def cut(connection=connection, expired=expired):
            # At the deadline, shut the socket down under whatever read is blocked (a trickling receiver).
            expired.set()
            sock = connection.socket_in_use
            if sock is not None:
                try:
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(remaining, cut)
        timer.daemon = True
        timer.start()
        try:
            try:
                connection.connect()
            except ssl.SSLError as exc:
                if expired.is_set():
                    raise DeliveryError(f"timed out after {timeout:g} s in the TLS handshake with {target.host}") \
                        from None
                raise DeliveryError(f"TLS error with {target.host}: {_why(exc)}") from None
            except (TimeoutError, socket.timeout):
                last_error = DeliveryError(f"timed out connecting to {target.host} ({address})")
                continue
            except OSError as exc:
                if expired.is_set():
                    raise DeliveryError(f"timed out after {timeout:g} s connecting to {target.host}") from None
                last_error = DeliveryError(f"connection to {target.host} ({address}) failed: {_why(exc)}")
                continue
            return _exchange(connection, target, headers, body, timeout, expired)
        finally:
            timer.cancel()
            connection.close()
    raise last_error or DeliveryError(f"timed out after {timeout:g} s connecting to {target.host}")


def _exchange(connection, target: _Target, headers: dict, body: bytes, timeout: float,
              expired: threading.Event) -> Answer:
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        status = response.status
        if 300 <= status < 400:
            location = response.getheader("location") or "no Location"
            raise DeliveryError(f"answered {status} (a redirect, to {_clean(location)[:200]}): redirects are "
                                "not followed; configure the final URL")
        # Read at most 64 KiB and stop: the status is what matters, the excerpt is for people.
        data = response.read(MAX_BODY)
        if expired.is_set():  # the read ended because the deadline shut the socket, not because the body did
            raise DeliveryError(f"timed out after {timeout:g} s reading the answer of {target.host}")
    except DeliveryError:
        raise
    except ssl.SSLError as exc:
        if expired.is_set():
            raise DeliveryError(f"timed out after {timeout:g} s waiting for {target.host}") from None
        raise DeliveryError(f"TLS error with {target.host}: {_why(exc)}") from None
    except (TimeoutError, socket.timeout):
        raise DeliveryError(f"timed out after {timeout:g} s waiting for {target.host}") from None
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set():
            raise DeliveryError(f"timed out after {timeout:g} s waiting for {target.host}") from None
        raise DeliveryError(f"connection to {target.host} failed: {_why(exc)}") from None
    return Answer(status=status, excerpt=_clean(data.decode("utf-8", "replace"))[:MAX_EXCERPT])


def _why(exc: Exception) -> str:
    return _clean(f"{type(exc).__name__}: {exc}")[:300]


def _clean(text: str) -> str:
    """Text a receiver wrote, fit to show an officer: line breaks and tabs become spaces, other control and
    invisible formatting characters go."""
    text = re.sub(r"[\r\n\t]+", " ", text)
    return "".join(c for c in text if unicodedata.category(c) not in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co"))
