"""The team's pages: privacy settings (seed §3), members, connected systems, and the request log as CSV.

Forms carry the settings API's field names and go through the same domain calls (settings.update_settings,
teams.upsert_member, systems.put ...). Only admins change anything, as on the API; everyone else reads."""
import csv
import io

from .. import clock, config, ids, recipients, schemas, settings as team_settings, systems as team_systems, teams
from .. import actors
from .. import privacy_requests as pr
from ..errors import DomainError, NotFound
from ..languages import offered
from ..spreadsheet import formula_safe
from ..templating import LOCALES
from . import visit as v

BOOLEANS = ("consent_capture_enabled", "policy_links_enabled", "portal_privacy_banner_enabled")
TEXTS = ("consent_text", "privacy_policy_url", "terms_of_service_url", "processing_purposes", "data_recipients",
         "retention_period", "supervisory_authority", "logo_url", "accent_color")
MAX_LOG_ROWS = 10000  # one download; past it the page asks for a shorter period
CSV_FIELDS = ("request_id", "type", "status", "client_email", "received_at", "verified_at", "due_at",
              "extension_months", "completed_at", "executed_by", "denial_reason")


def _field(exc: DomainError) -> str:
    """"body.locales[0]" → "locales": the form field next to which the error shows."""
    name = str(exc.extra.get("field") or "").removeprefix("body.")
    return name.split("[")[0] or "form"


# --- settings -------------------------------------------------------------------------------------------------

@v.team_page(admin_post=True)
def settings(ctx: v.Context, visit: v.Visit) -> v.Answer:
    current = team_settings.view(ctx.settings)
    if visit.method == "GET":
        return _settings_page(ctx, current, notice=visit.query.get("saved") and "saved")
    changes = {name: value for name, value in _settings_form(visit).items() if value != current.get(name)}
    if not changes:
        return _settings_page(ctx, current, notice="unchanged")
    try:
        team_settings.update_settings(ctx.team_id, changes)
    except DomainError as exc:
        return _settings_page(ctx, {**current, **changes}, exc.status, error_field=_field(exc), error=exc.message)
    return v.redirect(f"/console/teams/{ctx.team_id}/settings?saved=1")


def _settings_form(visit: v.Visit) -> dict:
    form = visit.form
    values = {name: form.get(name) == "on" for name in BOOLEANS}
    values.update({name: (form.get(name) or "").strip() or None for name in TEXTS})
    values["privacy_officer_id"] = form.get("privacy_officer_id") or None
    values["locale"] = form.get("locale") or "en"
    values["locales"] = list(visit.lists.get("locales", [])) or None
    values["regime"] = form.get("regime") or "gdpr"
    values["regimes"] = list(visit.lists.get("regimes", [])) or None
    origins = [line.strip() for line in (form.get("embed_origins") or "").splitlines() if line.strip()]
    values["embed_origins"] = origins or None
    return values


def _settings_page(ctx: v.Context, values: dict, status: int = 200, notice: str | None = None,
                   error_field: str | None = None, error: str | None = None) -> v.Answer:
    members = sorted(teams.list_members(ctx.team_id), key=lambda m: (m.name.casefold(), m.member_id))
    portal_url = config.public_url(f"/portal/{ctx.team_id}/privacy")
    snippet = (f'<iframe src="{portal_url}" title="Privacy" data-privacy-desk></iframe>\n'
               f'<script src="{config.public_url("/portal/assets/embed.js")}" async></script>')
    return v.render(ctx, "settings.html", status, values=values, members=members, all_locales=LOCALES,
                    all_regimes=schemas.REGIMES,
                    offered=offered(ctx.settings), saved=notice, error_field=error_field, error=error,
                    snippet=snippet, portal_url=portal_url)


# --- members --------------------------------------------------------------------------------------------------

@v.team_page(admin_post=True)
def members(ctx: v.Context, visit: v.Visit) -> v.Answer:
    if visit.method == "GET":
        return _members_page(ctx, notice=visit.query.get("done"))
    form = visit.form
    action, member_id = form.get("action"), form.get("member_id") or ""
    try:
        if action == "remove":
            teams.remove_member(ctx.team_id, member_id)
        elif action in ("add", "update"):
            member_id = ids.new_id("m_") if action == "add" else member_id
            existing = teams.get_member(ctx.team_id, member_id) if action == "update" else None
            if action == "update" and existing is None:
                raise NotFound(f"member {member_id} does not exist")
            body = {"email": form.get("email") or (existing.email if existing else ""),
                    "name": (form.get("name") or (existing.name if existing else "")).strip(),
                    "role": form.get("role") or ""}
            teams.upsert_member(ctx.team_id, member_id, body)
        else:
            raise NotFound("no such action")
    except DomainError as exc:
        return _members_page(ctx, exc.status, failed=f"{action}:{member_id}" if action != "add" else "add",
                             error_field=_field(exc), error=exc.message, typed=form)
    return v.redirect(f"/console/teams/{ctx.team_id}/members?done={action}")


def _members_page(ctx: v.Context, status: int = 200, notice: str | None = None, failed: str | None = None,
                  error_field: str | None = None, error: str | None = None, typed: dict | None = None) -> v.Answer:
    found = sorted(teams.list_members(ctx.team_id), key=lambda m: (m.name.casefold(), m.member_id))
    return v.render(ctx, "members.html", status, members=[teams.member_view(m) for m in found],
                    officer=ctx.settings.privacy_officer_id, done=notice if notice in ("add", "update", "remove")
                    else None, failed=failed, error_field=error_field, error=error, typed=typed or {})


# --- connected systems ----------------------------------------------------------------------------------------

@v.team_page(admin_post=True)
def systems(ctx: v.Context, visit: v.Visit) -> v.Answer:
    if visit.method == "GET":
        return _systems_page(ctx, notice=visit.query.get("done"))
    form = visit.form
    action, system_id = form.get("action"), (form.get("system_id") or "").strip()
    issued = None
    try:
        if action == "delete":
            recipients.remove_system(ctx.team_id, system_id, actors.member(ctx.member.member_id))
        elif action == "rotate":
            issued = _rotate(ctx.team_id, system_id)
        elif action == "add":
            saved, _created = team_systems.put(ctx.team_id, system_id, _system_body(visit))
            issued = saved.get("secret")
        else:
            raise NotFound("no such action")
    except DomainError as exc:
        return _systems_page(ctx, exc.status, failed=action if action == "add" else f"{action}:{system_id}",
                             error_field=_field(exc), error=exc.message, typed=form)
    if issued:  # shown once, on this answer only: a redirect would have to carry it in a URL or store it
        return _systems_page(ctx, secret={"system_id": system_id, "secret": issued})
    return v.redirect(f"/console/teams/{ctx.team_id}/systems?done={action}")


def _system_body(visit: v.Visit) -> dict:
    form = visit.form
    body = {"name": (form.get("name") or "").strip(), "kind": form.get("kind") or "",
            "request_types": list(visit.lists.get("request_types", [])) or list(team_systems.REQUEST_TYPES)}
    if body["kind"] == "webhook":
        body.update(url=(form.get("url") or "").strip(), completion=form.get("completion") or "callback")
    elif body["kind"] == "manual":
        body["owner_email"] = (form.get("owner_email") or "").strip()
    return body


def _rotate(team_id: str, system_id: str) -> str:
    current = team_systems.get_view(team_id, system_id)
    if current["kind"] != "webhook":
        raise NotFound(f"system {system_id} has no signing secret")
    body = {"name": current["name"], "kind": "webhook", "url": current["url"],
            "request_types": current["request_types"], "completion": current["completion"], "rotate_secret": True}
    return team_systems.put(team_id, system_id, body)[0]["secret"]


def _systems_page(ctx: v.Context, status: int = 200, notice: str | None = None, failed: str | None = None,
                  error_field: str | None = None, error: str | None = None, typed: dict | None = None,
                  secret: dict | None = None) -> v.Answer:
    found = team_systems.list_systems(ctx.team_id)["items"]
    return v.render(ctx, "systems.html", status, systems=found, request_types=team_systems.REQUEST_TYPES,
                    done=notice if notice in ("add", "rotate", "delete") else None, failed=failed,
                    error_field=error_field, error=error, typed=typed or {}, secret=secret)


# --- the request log ------------------------------------------------------------------------------------------

@v.team_page()
def log_csv(ctx: v.Context, visit: v.Visit) -> v.Answer:
    """Every request of the team, newest first, for the controller's records (Art. 5(2), Art. 30)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    cursor, rows = None, 0
    while True:
        page = pr.requests_by(ctx.team_id, None, None, cursor, size=500)
        for item in page["items"]:
            writer.writerow([formula_safe(value) for value in _log_row(item)])
            rows += 1
        cursor = page["next_key"]
        if cursor is None or rows >= MAX_LOG_ROWS:
            break
    stamp = clock.iso(clock.now())[:10]
    return v.Answer(200, out.getvalue(), content_type="text/csv; charset=utf-8",
                    filename=f"privacy-requests-{stamp}.csv")


def _log_row(item) -> list:
    by = actors.read(item.executed_by)
    return [item.request_id, item.type, pr.effective_status(item), item.email, item.received_at,
            item.verified_at or "", item.due_at, int(item.extension_months or 0), item.completed_at or "",
            f"{by['kind']}:{by['id'] or ''}" if by else "", item.denial_reason or ""]
