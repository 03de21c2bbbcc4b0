"""What the client portal shows and accepts (seed §4), and the pages behind the client's email links.

The banner only hides the portal's button: requests are accepted whatever it says (a right can't be
switched off)."""
import datetime

from pynamodb.exceptions import DoesNotExist

from . import clock, config, exports, ids, languages, regimes, schemas, templating, tokens
from . import privacy_requests as pr
from .errors import Conflict, DomainError
from .models import PrivacyRequest
from .settings import view as settings_view
from .teams import require_team


def privacy_info(team_id: str) -> dict:
    team = require_team(team_id)
    s = settings_view(team)
    links = s["policy_links_enabled"]
    return {
        "privacy_banner": s["portal_privacy_banner_enabled"],
        "privacy_policy_url": s["privacy_policy_url"] if links else None,
        "terms_of_service_url": s["terms_of_service_url"] if links else None,
        "consent": {"required": s["consent_capture_enabled"], "text": s["consent_text"],
                    "version": s["consent_version"]},
        "request_types": rights_offered(team),
        "regime": s["regime"],
        "regimes": regimes.offered(team),  # "where do you live": a submission may name one as `regime`
        "locale": s["locale"],
        "locales": list(languages.offered(team)),  # the portal's language menu; "locale" is the default
    }


def rights_offered(settings) -> list[str]:
    """The request types a client may send: those of every law the team offers, in the usual order."""
    given = {t for code in regimes.offered(settings) for t in regimes.get(code).rights}
    return [t for t in schemas.REQUEST_TYPES if t in given]


def regime_choices(settings) -> dict[str, list[str]]:
    """For each request type, the places (laws) offered whose law gives that right."""
    return {t: [code for code in regimes.offered(settings) if t in regimes.get(code).rights]
            for t in schemas.REQUEST_TYPES}


def _locale_of(request: dict, settings) -> str:
    """The client's language, chosen as for their emails (languages.for_client)."""
    return languages.for_client(request.get("locale"), request.get("accept_language"), settings)


def verify_page(token: str, accept_language: str | None = None) -> tuple[int, str]:
    """GET of the email's verification link: confirms the request and says so on a small page."""
    from .execution import after_verification

    try:
        item = pr.verify(token)
        done = after_verification(item)
    except DomainError as exc:
        return exc.status, link_error(exc, token, tokens.VERIFY, accept_language)
    settings = require_team(item.team_id)
    request = done or pr.view(item)
    return 200, templating.render("pages/verified.html", _locale_of(request, settings), request=request,
                                  team_name=settings.team_name or item.team_id, brand=brand(settings)), \
        page_policy(settings)


def status(token: str | None, request_id: str) -> dict:
    data, _ = pr.status_for_client(token or "", request_id)
    return pr.public_view(data)


def status_page(token: str | None, request_id: str, accept_language: str | None = None) -> tuple:
    try:
        data, cancellable = pr.status_for_client(token or "", request_id)
    except DomainError as exc:
        return exc.status, link_error(exc, token, tokens.STATUS, accept_language)
    return 200, *_status_render(data, cancel_allowed=cancellable, cancel_url=_cancel_url(request_id, token),
                                token=token)


def _cancel_url(request_id: str, token: str | None) -> str:
    return config.public_url(f"/portal/privacy/requests/{request_id}/cancel?token={token}")


def _status_render(data: dict, notice: str | None = None, status_url: str | None = None, token: str | None = None,
                   **cancel) -> tuple:
    """(html, CSP policy) of the status page; with the link's token, its appeal and clarification forms."""
    settings = require_team(data["team_id"])
    regime = regimes.get(data.get("regime"))
    forms = {}
    if token:
        base = f"/portal/privacy/requests/{data['request_id']}"
        if data["status"] == pr.DENIED and regime.appeal and not data.get("appealed_at"):
            forms["appeal_url"] = config.public_url(f"{base}/appeal?token={token}")
        if data.get("paused_at"):
            forms["clarification_url"] = config.public_url(f"{base}/clarification?token={token}")
    html = templating.render("pages/request_status.html", _locale_of(data, settings), request=data,
                             team_name=settings.team_name or data["team_id"], brand=brand(settings), notice=notice,
                             status_url=status_url, law=regime.law, **forms, **cancel)
    return html, page_policy(settings)


def cancel_confirm_page(token: str | None, request_id: str, accept_language: str | None = None) -> tuple:
    """GET of the status page's cancel link: asks before cancelling (the POST does it); the status page when it
    can no longer be cancelled."""
    try:
        data, cancellable = pr.status_for_client(token or "", request_id)
    except DomainError as exc:
        return exc.status, link_error(exc, token, tokens.STATUS, accept_language)
    if not cancellable:
        return 200, *_status_render(data, cancel_allowed=False, cancel_url="")
    settings = require_team(data["team_id"])
    html = templating.render(
        "pages/cancel_confirm.html", _locale_of(data, settings), request=data, brand=brand(settings),
        cancel_url=_cancel_url(request_id, token),
        status_url=config.public_url(f"/portal/privacy/requests/{request_id}?token={token}"))
    return 200, html, page_policy(settings)


def cancel(token: str | None, request_id: str) -> dict:
    return pr.public_view(pr.cancel(token or "", request_id))


def cancel_page(token: str | None, request_id: str, accept_language: str | None = None) -> tuple[int, str]:
    try:
        data = pr.cancel(token or "", request_id)
    except Conflict as exc:
        return _not_cancellable(token or "", request_id, exc, accept_language)
    except DomainError as exc:
        return exc.status, link_error(exc, token, tokens.STATUS, accept_language)
    return 200, *_status_render(data, notice="cancelled", cancel_allowed=False, cancel_url="")


def _not_cancellable(token: str, request_id: str, conflict: Conflict, accept_language: str | None = None
                     ) -> tuple[int, str]:
    """A second cancel (or one too late): the status link still works, so say what the status is and link to
    it, rather than an 'already used' page."""
    try:
        data, _ = pr.status_for_client(token, request_id)
    except DomainError:
        return conflict.status, link_error(conflict, token, tokens.STATUS, accept_language)
    notice = "already_cancelled" if data["status"] == pr.CANCELLED else "not_cancellable"
    status_url = config.public_url(f"/portal/privacy/requests/{request_id}?token={token}")
    return conflict.status, *_status_render(data, notice=notice, status_url=status_url, cancel_allowed=False,
                                            cancel_url="")


CLIENT_ACTIONS = {"appeal": pr.appeal, "clarification": pr.clarify}


def client_answer(action: str, token: str | None, request_id: str, body) -> dict:
    """The client appeals a denial or answers the team's question, through their status link."""
    return pr.public_view(CLIENT_ACTIONS[action](token or "", request_id, body))


def client_answer_page(action: str, token: str | None, request_id: str, fields: dict,
                       accept_language: str | None = None) -> tuple:
    """The status page's forms: the status page again, saying it was received or what is wrong."""
    name = "reason" if action == "appeal" else "answer"
    body = {name: fields[name].strip()} if (fields.get(name) or "").strip() else {}
    try:
        data = CLIENT_ACTIONS[action](token or "", request_id, body)
    except DomainError as exc:
        try:
            data, cancellable = pr.status_for_client(token or "", request_id)
        except DomainError:
            return exc.status, link_error(exc, token, tokens.STATUS, accept_language)
        return exc.status, *_status_render(data, notice=f"{action}_refused", cancel_allowed=cancellable,
                                           cancel_url=_cancel_url(request_id, token), token=token)
    return 200, *_status_render(data, notice=f"{action}_received", cancel_allowed=False, cancel_url="", token=token)


def export_page(token: str, accept_language: str | None = None) -> tuple:
    """The export link of the client's email: what the file is, its size and until when it can be downloaded,
    with a button (a link never downloads silently)."""
    try:
        item, claims = exports.linked_export(token)
    except DomainError as exc:
        return _export_error(exc, token, accept_language)
    settings = require_team(item.team_id)
    html = templating.render(
        "pages/export.html", _locale_of(pr.view(item), settings), request=pr.view(item), brand=brand(settings),
        file_name=exports.file_name(item.request_id), size=int(item.result.get("bytes") or 0),
        expires_at=clock.iso(datetime.datetime.fromtimestamp(claims["exp"], datetime.timezone.utc)),
        download_url=config.public_url(f"/portal/privacy/exports/{token}?download=1"))
    return 200, html, page_policy(settings)


def export_link(token: str, accept_language: str | None = None) -> tuple[int, str]:
    """302 to a fresh presigned URL, or a page saying why not (never S3's XML)."""
    try:
        return 302, exports.download_url(token)
    except DomainError as exc:
        return _export_error(exc, token, accept_language)


def _export_error(exc: DomainError, token: str, accept_language: str | None) -> tuple[int, str]:
    if not isinstance(exc, tokens.TokenError):
        return exc.status, link_error(exc, token, tokens.EXPORT, accept_language)
    reason = "export_expired" if exc.reason == "expired" else exc.reason
    locale, _ = link_context(token, tokens.EXPORT)
    return 410 if reason == "export_expired" else exc.status, _error(reason, locale, accept_language)


def missing_page(accept_language: str | None) -> str:
    """Where API Gateway's page for a path no route matches (a link cut short) sends browsers: in their language."""
    return _error("missing", None, accept_language)


# A 409 about one of these statuses says so, rather than "this link was already used".
STATUS_REASONS = {pr.CANCELLED, pr.DENIED, pr.IN_PROGRESS}


def error_page(exc: DomainError, locale: str | None, status: str | None = None,
               accept_language: str | None = None) -> str:
    reason = getattr(exc, "reason", None)
    if reason is None and exc.status == 409:
        status = exc.extra.get("status") or status
        reason = status if status in STATUS_REASONS else "used"
    return _error(reason or {404: "not_found"}.get(exc.status, "invalid"), locale, accept_language)


def link_error(exc: DomainError, token: str | None, purpose: str, accept_language: str | None = None) -> str:
    locale, status = link_context(token, purpose)
    return error_page(exc, locale, status, accept_language)


def link_context(token: str | None, purpose: str) -> tuple[str | None, str | None]:
    """The language (and the request's status) for the page refusing a link, read from its token.

    Only from a token whose signature and purpose are valid, expired or not (tokens.claims_for_language),
    and only to choose words: the client's language for their links, else the team's; the team's for the
    officer's action links, as their emails and pages. (None, None) when the token can't be read."""
    claims = tokens.claims_for_language(token or "", purpose)
    team_id, request_id = (claims or {}).get("team"), (claims or {}).get("req")
    if not isinstance(team_id, str):
        return None, None
    try:
        settings = require_team(team_id)
    except DomainError:
        return None, None
    request = None
    if isinstance(request_id, str) and ids.plausible(request_id):
        try:  # the stored item, even past its expiry: only its language and status are read
            request = PrivacyRequest.get(team_id, request_id)
        except DoesNotExist:
            pass
    if request is not None and purpose not in (tokens.ACTION, tokens.TASK):
        locale = languages.for_client(request.locale, request.accept_language, settings)
    else:
        locale = languages.team_default(settings)
    return locale, (request.status if request is not None else None)


def _error(reason: str, locale: str | None, accept_language: str | None = None) -> str:
    """Without a readable link nobody is known: the visitor's browser language, among all we have."""
    return templating.render("pages/error.html", locale or languages.for_visitor(accept_language), reason=reason)


# --- the hosted privacy page (issue 17): a form for every right, framable by the team's own sites ---------------

# The text a right needs beyond the address: what to correct, what to restrict, the grounds of an objection.
DETAIL_TYPES = ("rectification", "restriction", "objection")


def brand(settings) -> dict:
    """What every client page shows of the team: its name, and its logo and accent colour when set."""
    return {"team_name": settings.team_name or settings.team_id, "logo_url": settings.logo_url,
            "accent_color": settings.accent_color}


def page_policy(settings, framable: bool = False) -> dict:
    """The CSP a client page of this team needs: its logo's origin, and who may frame it (the privacy page and
    its receipt only: status and export links carry a token and stay unframable)."""
    policy: dict = {"img_src": _origin(settings.logo_url)}
    if framable:
        policy.update(frame_ancestors=tuple(settings.embed_origins or ()), script=bool(settings.embed_origins))
    return policy


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].split('?', 1)[0].split('#', 1)[0]}"


def privacy_page(team_id: str, accept_language: str | None, error: str | None = None,
                 values: dict | None = None, status: int = 200) -> tuple[int, str, dict]:
    settings = require_team(team_id)
    s = settings_view(settings)
    links = s["policy_links_enabled"]
    html = templating.render(
        "pages/privacy.html", languages.for_client(None, accept_language, settings), brand=brand(settings),
        embed_origins=s["embed_origins"] or [], banner=s["portal_privacy_banner_enabled"],
        policy_url=s["privacy_policy_url"] if links else None, terms_url=s["terms_of_service_url"] if links else None,
        form_url=config.public_url(f"/portal/{team_id}/privacy/form"), detail_types=DETAIL_TYPES,
        types=[*rights_offered(settings), pr.CONSENT_WITHDRAWAL], regime_choices=regime_choices(settings),
        default_regime=s["regime"],
        error=error, values=values or {})
    return status, html, page_policy(settings, framable=True)


def submit_form(team_id: str, fields: dict, source_ip: str | None, accept_language: str | None,
                gpc: bool = False) -> tuple[int, str, dict]:
    """The page's plain form post: the receipt, the same whatever exists for the address (as the JSON API),
    or the page again saying what to fix."""
    settings = require_team(team_id)
    kind = fields.get("type")
    body = {"email": (fields.get("email") or "").strip(), "locale": fields.get("locale") or None,
            "regime": fields.get("regime") or None}
    if kind in DETAIL_TYPES and (fields.get("message") or "").strip():
        body["message"] = fields["message"].strip()
    body = {k: v for k, v in body.items() if v is not None}
    try:
        if kind == pr.CONSENT_WITHDRAWAL:
            body.pop("regime", None)
            pr.submit_consent_withdrawal(team_id, body, source_ip, accept_language)
        else:
            pr.submit(team_id, {**body, "type": kind}, source_ip, accept_language, gpc, _enqueue)
    except DomainError as exc:
        return privacy_page(team_id, accept_language, _form_error(exc, kind), fields, exc.status)
    locale = languages.for_client(body.get("locale"), accept_language, settings)
    html = templating.render("pages/privacy_receipt.html", locale, brand=brand(settings),
                             started=kind == pr.OPT_OUT_SALE,
                             embed_origins=settings.embed_origins or [],
                             hours=int(pr.LINK_LIFETIME.total_seconds() // 3600),
                             back_url=config.public_url(f"/portal/{team_id}/privacy"))
    return 200, html, page_policy(settings, framable=True)


def _enqueue(team_id: str, request_id: str) -> None:
    from .execution import enqueue  # as verify_page does: execution's imports are not the portal's

    enqueue(team_id, request_id)


def _form_error(exc: DomainError, kind: str | None = None) -> str:
    field = (exc.extra.get("field") or "").removeprefix("body.")
    if exc.status == 429:
        return "busy"
    if field in ("email", "message"):
        return field
    if field == "regime" or (field == "type" and kind in schemas.REQUEST_TYPES):  # a right the law doesn't give
        return "regime"
    return "invalid"
