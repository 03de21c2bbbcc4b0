"""What the client portal shows and accepts (seed §4): the banner, the policy links, the consent wording and
the request types. The banner only hides the portal's button: requests are accepted whatever it says."""
from . import privacy_requests as pr
from . import schemas, templating
from .errors import DomainError
from .settings import view as settings_view
from .teams import require_team


def privacy_info(team_id: str) -> dict:
    s = settings_view(require_team(team_id))
    links = s["policy_links_enabled"]
    return {
        "privacy_banner": s["portal_privacy_banner_enabled"],
        "privacy_policy_url": s["privacy_policy_url"] if links else None,
        "terms_of_service_url": s["terms_of_service_url"] if links else None,
        "consent": {"required": s["consent_capture_enabled"], "text": s["consent_text"],
                    "version": s["consent_version"]},
        "request_types": list(schemas.REQUEST_TYPES),
        "locale": s["locale"],
    }


def verify_page(token: str) -> tuple[int, str]:
    """GET of the email's verification link: confirms the request and says so on a small page."""
    try:
        item = pr.verify(token)
    except DomainError as exc:
        return exc.status, error_page(exc, None)
    settings = require_team(item.team_id)
    locale = templating.pick_locale(item.locale, settings.locale)
    return 200, templating.render("pages/verified.html", locale, request=pr.view(item),
                                  team_name=settings.team_name or item.team_id)


def error_page(exc: DomainError, locale: str | None) -> str:
    reason = getattr(exc, "reason", None) or {404: "not_found", 409: "used"}.get(exc.status, "invalid")
    return templating.render("pages/error.html", locale or templating.DEFAULT_LOCALE, reason=reason)
