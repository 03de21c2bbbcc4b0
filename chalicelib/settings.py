"""A team's privacy settings (seed §3): consent capture, policy links, the portal banner, the officer."""
import hashlib

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from . import branding, clock, languages, regimes, schemas
from .db import cancellation_codes, connection, transaction_conflict
from .errors import BadRequest, Conflict, Unprocessable
from .models import Member, TeamSettings
from .teams import require_team

DEFAULTS = {
    "consent_capture_enabled": False,
    "consent_text": None,
    "consent_version": 0,
    "policy_links_enabled": False,
    "privacy_policy_url": None,
    "terms_of_service_url": None,
    "portal_privacy_banner_enabled": True,
    "privacy_officer_id": None,
    "locale": "en",
    "locales": None,
    "processing_purposes": None,
    "data_recipients": None,
    "retention_period": None,
    "supervisory_authority": None,
    "embed_origins": None,
    "logo_url": None,
    "accent_color": None,
    "regime": regimes.DEFAULT,
    "regimes": None,
}


def view(item: TeamSettings) -> dict:
    out = {"team_id": item.team_id}
    for name, default in DEFAULTS.items():
        value = getattr(item, name)
        out[name] = default if value is None else value
    out["consent_version"] = int(out["consent_version"])
    out["locales"] = list(out["locales"]) if out["locales"] is not None else None
    out["embed_origins"] = list(out["embed_origins"]) if out["embed_origins"] is not None else None
    out["regimes"] = list(out["regimes"]) if out["regimes"] is not None else None
    out["updated_at"] = item.updated_at
    return out


def get_settings(team_id: str) -> dict:
    return view(require_team(team_id))


def consent_text_hash(text: str | None) -> str | None:
    return hashlib.sha256(text.encode()).hexdigest() if text is not None else None


def update_settings(team_id: str, body) -> dict:
    changes = schemas.validate("settings_patch", body)
    current = require_team(team_id)
    _check_languages(changes, current)
    _check_default_offered(changes, current, "regime", "regimes", "regime")
    branding.check_embed_origins(changes.get("embed_origins"))
    branding.check_accent_colour(changes.get("accent_color"))
    actions = [TeamSettings.updated_at.set(clock.iso(clock.now()))]
    for name, value in changes.items():
        actions.append(getattr(TeamSettings, name).set(value))
    # Only a real change of wording bumps the version; the condition makes two racing edits bump twice.
    condition = TeamSettings.team_id.exists()
    if "consent_text" in changes and changes["consent_text"] != current.consent_text:
        version = int(current.consent_version or 0) + 1
        history = list(current.consent_versions or []) + [{
            "version": version, "text": changes["consent_text"],
            "text_sha256": consent_text_hash(changes["consent_text"]), "effective_from": clock.iso(clock.now())}]
        actions += [TeamSettings.consent_version.add(1), TeamSettings.consent_versions.set(history)]
        # The text condition makes two racing edits bump (and record) one version each, never the same one.
        condition &= _same_text(current.consent_text)
    officer = changes.get("privacy_officer_id")
    try:
        with TransactWrite(connection=connection()) as tx:
            if officer is not None:
                tx.condition_check(Member, team_id, officer, condition=Member.member_id.exists())
            tx.update(current, actions=actions, condition=condition)
    except TransactWriteError as exc:
        reasons = cancellation_codes(exc)
        if officer is not None and reasons and reasons[0] == "ConditionalCheckFailed":
            raise Unprocessable(f"privacy_officer_id {officer} is not a member of this team",
                                field="body.privacy_officer_id") from None
        if transaction_conflict(exc) or "ConditionalCheckFailed" in reasons:
            raise Conflict("the settings changed while saving; reload and try again") from None
        raise
    return get_settings(team_id)


def _check_languages(changes: dict, current) -> None:
    """Only languages the product has; the default among those offered, when the team restricts them."""
    languages.check(changes.get("locale"), "body.locale")
    for index, code in enumerate(changes.get("locales") or []):
        languages.check(code, f"body.locales[{index}]")
    _check_default_offered(changes, current, "locale", "locales", "language")


def _check_default_offered(changes: dict, current, name: str, names: str, what: str) -> None:
    """The default (`name`: the language, the law) must be among those offered (`names`), when the team lists
    them; the field named is the one this change set."""
    default = changes.get(name, getattr(current, name)) or DEFAULTS[name]
    offered = changes[names] if names in changes else getattr(current, names)
    if offered and default not in offered:
        field = f"body.{names}" if names in changes else f"body.{name}"
        raise BadRequest(f"{field}: the default {what} {default} must be among the {what}s offered "
                         f"({', '.join(offered)})", field=field)


def _same_text(text: str | None):
    if text is None:
        return TeamSettings.consent_text.does_not_exist()
    return TeamSettings.consent_text == text


def consent_versions(team_id: str) -> dict:
    """Art. 7(1) proof: every consent wording with its version and hash, newest first."""
    history = require_team(team_id).consent_versions or []
    return {"items": sorted(history, key=lambda v: v["version"], reverse=True), "next_key": None}
