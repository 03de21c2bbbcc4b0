"""Teams and their members. A team exists once its settings item exists (created with its first admin)."""
from pynamodb.exceptions import DeleteError, DoesNotExist, TransactWriteError
from pynamodb.transactions import TransactWrite

from . import clock, emails, ids, schemas
from .db import cancelled_by_condition, condition_failed, connection, transaction_conflict
from .errors import Conflict, NotFound
from .models import Member, TeamSettings


def member_view(member: Member) -> dict:
    return {
        "team_id": member.team_id,
        "member_id": member.member_id,
        "email": member.email,
        "name": member.name,
        "role": member.role,
        "created_at": member.created_at,
        "updated_at": member.updated_at,
    }


def create_team(team_name: str, admin_email: str, admin_name: str) -> tuple[str, str]:
    """A new team with its first admin, written together (no team without an admin)."""
    team_id, member_id = ids.new_id("t_"), ids.new_id("m_")
    stamp = clock.iso(clock.now())
    settings = TeamSettings(team_id, team_name=team_name, created_at=stamp)
    admin = Member(team_id, member_id, email=emails.normalise(admin_email), name=admin_name, role="admin",
                   created_at=stamp, updated_at=stamp)
    with TransactWrite(connection=connection()) as tx:
        tx.save(settings, condition=TeamSettings.team_id.does_not_exist())
        tx.save(admin, condition=Member.member_id.does_not_exist())
    return team_id, member_id


def require_team(team_id: str) -> TeamSettings:
    if not ids.plausible(team_id):
        raise NotFound("team does not exist")
    try:
        return TeamSettings.get(team_id)
    except DoesNotExist:
        raise NotFound(f"team {team_id} does not exist") from None


def get_member(team_id: str, member_id: str) -> Member | None:
    if not (ids.plausible(team_id) and ids.plausible(member_id)):
        return None
    try:
        return Member.get(team_id, member_id)
    except DoesNotExist:
        return None


def list_admins(team_id: str) -> list[Member]:
    return [m for m in Member.query(team_id) if m.role == "admin"]


def upsert_member(team_id: str, member_id: str, body) -> tuple[dict, bool]:
    data = schemas.validate("member_put", body)
    if not ids.plausible(member_id) or len(member_id) > 100:
        raise NotFound("member_id must be 1 to 100 characters")
    address = emails.normalise(data["email"])
    stamp = clock.iso(clock.now())
    existing = get_member(team_id, member_id)
    member = Member(team_id, member_id, email=address, name=data["name"], role=data["role"],
                    created_at=existing.created_at if existing else stamp, updated_at=stamp)
    if existing is not None and existing.role == "admin" and data["role"] != "admin" \
            and len(list_admins(team_id)) <= 1:
        raise Conflict("a team must keep at least one admin")
    try:
        # The team must still exist when the member is written.
        with TransactWrite(connection=connection()) as tx:
            tx.condition_check(TeamSettings, team_id, condition=TeamSettings.team_id.exists())
            tx.save(member)
    except TransactWriteError as exc:
        if transaction_conflict(exc):
            raise Conflict("the team changed while saving the member; try again") from None
        if not cancelled_by_condition(exc):
            raise
        raise NotFound(f"team {team_id} does not exist") from None
    return member_view(member), existing is None


def remove_member(team_id: str, member_id: str) -> None:
    member = get_member(team_id, member_id)
    if member is None:
        raise NotFound(f"member {member_id} does not exist in team {team_id}")
    if member.role == "admin" and len(list_admins(team_id)) <= 1:
        raise Conflict("a team must keep at least one admin")
    settings = require_team(team_id)
    if settings.privacy_officer_id == member_id:
        raise Conflict("this member is the team's privacy officer: choose another officer first")
    try:
        member.delete(condition=Member.member_id.exists())
    except DeleteError as exc:
        if condition_failed(exc):
            raise NotFound(f"member {member_id} does not exist in team {team_id}") from None
        raise
