"""Teams and their members. A team exists once its settings item exists (created with its first admin)."""
from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from . import actors, clock, emails, ids, schemas, tokens
from .db import cancellation_codes, cancelled_by_condition, condition_failed, connection, transaction_conflict
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
    team_id, member_id = ids.new_id("t_"), actors.check_member_id(ids.new_id("m_"))
    stamp = clock.iso(clock.now())
    settings = TeamSettings(team_id, team_name=team_name, created_at=stamp, admin_count=1)
    admin = Member(team_id, member_id, email=emails.normalise(admin_email), name=admin_name, role="admin",
                   created_at=stamp, updated_at=stamp, generation=ids.new_id("g_"))
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


def members_with_email(team_id: str, address: str) -> list[Member]:
    """The team's members with this (normalised) address. A team is small: one Query, filtered here."""
    if not ids.plausible(team_id):
        return []
    return [m for m in Member.query(team_id, consistent_read=True) if m.email == address]


def list_members(team_id: str) -> list[Member]:
    """Every member of the team, read now (a team is small: one Query)."""
    return list(Member.query(team_id, consistent_read=True))


def list_admins(team_id: str) -> list[Member]:
    return [m for m in Member.query(team_id) if m.role == "admin"]


def bearer_token(team_id: str, member_id: str) -> str:
    """A bearer token for an existing member, bound to the member's current generation."""
    member = get_member(team_id, member_id)
    if member is None:
        raise NotFound(f"member {member_id} does not exist in team {team_id}")
    return tokens.bearer_for(team_id, member_id, member.generation)


def _ensure_admin_count(settings: TeamSettings) -> None:
    """Teams created before admin_count existed get it once, counted; the condition makes a racing second
    count a no-op. From then on only the conditional writes below change it."""
    if settings.admin_count is not None:
        return
    try:
        settings.update(actions=[TeamSettings.admin_count.set(len(list_admins(settings.team_id)))],
                        condition=TeamSettings.admin_count.does_not_exist())
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
    settings.refresh(consistent_read=True)


LAST_ADMIN = "a team must keep at least one admin"


def upsert_member(team_id: str, member_id: str, body) -> tuple[dict, bool]:
    """Create or change a member. Every write is conditional on the member being as read (so a concurrent
    change answers 409 instead of being overwritten) and moves the team's admin_count in the same
    transaction, where "admin_count > 1" guards every demotion: two admins demoting each other at once can't
    both succeed."""
    data = schemas.validate("member_put", body)
    if not ids.plausible(member_id) or len(member_id) > 100:
        raise NotFound("member_id must be 1 to 100 characters")
    address = emails.normalise(data["email"])
    settings = require_team(team_id)
    _ensure_admin_count(settings)
    stamp = clock.iso(clock.now())
    existing = get_member(team_id, member_id)
    if existing is None:  # members created before the rule keep their id (and act as typed members)
        actors.check_member_id(member_id)
    member = Member(team_id, member_id, email=address, name=data["name"], role=data["role"],
                    created_at=existing.created_at if existing else stamp, updated_at=stamp,
                    generation=existing.generation if existing and existing.generation else ids.new_id("g_"))
    was_admin = existing is not None and existing.role == "admin"
    becomes_admin = data["role"] == "admin"
    if existing is None:
        member_condition = Member.member_id.does_not_exist()
    else:
        member_condition = Member.member_id.exists() & (Member.role == existing.role) \
            & _same_generation(existing.generation)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.save(member, condition=member_condition)
            if was_admin and not becomes_admin:
                tx.update(settings, actions=[TeamSettings.admin_count.add(-1)],
                          condition=TeamSettings.admin_count > 1)
            elif becomes_admin and not was_admin:
                tx.update(settings, actions=[TeamSettings.admin_count.add(1)],
                          condition=TeamSettings.team_id.exists())
            else:
                tx.condition_check(TeamSettings, team_id, condition=TeamSettings.team_id.exists())
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if transaction_conflict(exc):
            raise Conflict("the team changed while saving the member; try again") from None
        if not cancelled_by_condition(exc):
            raise
        if codes[0] == "ConditionalCheckFailed":
            raise Conflict(f"member {member_id} changed while saving; reload and try again") from None
        if was_admin and not becomes_admin:
            raise Conflict(LAST_ADMIN) from None
        raise NotFound(f"team {team_id} does not exist") from None
    return member_view(member), existing is None


def _same_generation(generation: str | None):
    return Member.generation.does_not_exist() if generation is None else Member.generation == generation


def remove_member(team_id: str, member_id: str) -> None:
    """Delete a member: refused for the last admin and for the team's privacy officer, both as conditions of
    the one transaction that deletes (not as counts read before it)."""
    member = get_member(team_id, member_id)
    if member is None:
        raise NotFound(f"member {member_id} does not exist in team {team_id}")
    settings = require_team(team_id)
    _ensure_admin_count(settings)
    not_officer = TeamSettings.privacy_officer_id.does_not_exist() | (TeamSettings.privacy_officer_id != member_id)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.delete(member, condition=Member.member_id.exists() & (Member.role == member.role))
            if member.role == "admin":
                tx.update(settings, actions=[TeamSettings.admin_count.add(-1)],
                          condition=not_officer & (TeamSettings.admin_count > 1))
            else:
                tx.condition_check(TeamSettings, team_id, condition=not_officer)
    except TransactWriteError as exc:
        codes = cancellation_codes(exc)
        if transaction_conflict(exc):
            raise Conflict("the team changed while removing the member; try again") from None
        if not cancelled_by_condition(exc):
            raise
        if codes[0] == "ConditionalCheckFailed":
            raise Conflict(f"member {member_id} changed meanwhile; reload and try again") from None
        if require_team(team_id).privacy_officer_id == member_id:
            raise Conflict("this member is the team's privacy officer: choose another officer first") from None
        raise Conflict(LAST_ADMIN) from None
