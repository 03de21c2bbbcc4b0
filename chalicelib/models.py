"""PynamoDB models: one table per concept, names from the stage's environment.

Keys are chosen so every read the product needs is a GetItem or a Query:
- members and dossiers hang under their team (hash key team_id);
- a client's dossiers are found through the `by_client` index keyed by "team_id#normalised email";
- requests sort by their time-ordered id, so a Query in reverse is "newest first"; `by_status` serves ?status=;
- markers hold the small guards that make things happen once (emails sent, open-request locks, rate counters);
- the other applications a team tells about requests (Art. 19) hang under their team too (systems).
"""
from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.constants import MAP, NULL, STRING
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from . import actors, config


class ActorAttribute(Attribute):
    """Who acted (actors.py), stored as a map {kind, id}. Items written before actors were typed hold a string:
    it is read by the rule it was written with."""

    attr_type = MAP

    def serialize(self, value):
        actor = actors.check_new(value)
        return {"kind": {STRING: actor["kind"]}, "id": {STRING: actor["id"]} if actor["id"] is not None else {NULL: True}}

    def get_value(self, value):
        return value[STRING] if STRING in value else super().get_value(value)

    def deserialize(self, value):
        if isinstance(value, str):
            return actors.read(value)
        return {"kind": value["kind"][STRING], "id": value.get("id", {}).get(STRING)}


class _Meta:
    max_retry_attempts = 5
    billing_mode = "PAY_PER_REQUEST"


class MemberEmailIndex(GlobalSecondaryIndex):
    """Every team a person is a member of, by their (normalised) address: the console's sign-in and team choice.
    Eventually consistent, so it only proposes teams: each page re-reads the team's members consistently."""

    class Meta:
        index_name = "by_email"
        projection = AllProjection()

    email = UnicodeAttribute(hash_key=True)
    team_id = UnicodeAttribute(range_key=True)


class Member(Model):
    class Meta(_Meta):
        table_name = config.get("MEMBERS_TABLE")

    team_id = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute(range_key=True)
    email = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()  # "admin" | "member"
    # New each time the member id is created: tokens carry it, so re-creating a deleted id revives no token.
    generation = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    by_email = MemberEmailIndex()


class TeamSettings(Model):
    """One item per team; its existence is what makes a team exist."""

    class Meta(_Meta):
        table_name = config.get("SETTINGS_TABLE")

    team_id = UnicodeAttribute(hash_key=True)
    team_name = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    consent_capture_enabled = BooleanAttribute(null=True)
    consent_text = UnicodeAttribute(null=True)
    consent_version = NumberAttribute(default=0)
    # Every wording the team ever asked clients to accept, so a consent record's hash can be shown as text.
    consent_versions = JSONAttribute(null=True)
    policy_links_enabled = BooleanAttribute(null=True)
    privacy_policy_url = UnicodeAttribute(null=True)
    terms_of_service_url = UnicodeAttribute(null=True)
    portal_privacy_banner_enabled = BooleanAttribute(null=True)
    privacy_officer_id = UnicodeAttribute(null=True)
    # Kept by every admin change in the same transaction, so "at least one admin" is a write condition.
    admin_count = NumberAttribute(null=True)
    # Kept by every system create/delete in the same transaction, so the per-team cap is a write condition.
    system_count = NumberAttribute(null=True)
    locale = UnicodeAttribute(null=True)  # the default language: the officer's, and a client's failing a better one
    locales = ListAttribute(of=UnicodeAttribute, null=True)  # the languages offered to clients; none: every one
    # Art. 15(1) information given with every access export.
    processing_purposes = UnicodeAttribute(null=True)
    data_recipients = UnicodeAttribute(null=True)
    retention_period = UnicodeAttribute(null=True)
    supervisory_authority = UnicodeAttribute(null=True)
    # The privacy page's framing and light branding (branding.py checks them when saved).
    embed_origins = ListAttribute(of=UnicodeAttribute, null=True)
    logo_url = UnicodeAttribute(null=True)
    accent_color = UnicodeAttribute(null=True)
    regime = UnicodeAttribute(null=True)  # the law of a submission naming none (regimes.py); none: gdpr
    regimes = ListAttribute(of=UnicodeAttribute, null=True)  # the laws clients may choose; none: the default alone


class ClientIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_client"
        projection = AllProjection()

    team_email = UnicodeAttribute(hash_key=True)
    dossier_id = UnicodeAttribute(range_key=True)


class DocumentRef(MapAttribute):
    document_id = UnicodeAttribute()
    filename = UnicodeAttribute()
    s3_key = UnicodeAttribute()
    size = NumberAttribute()
    uploaded_at = UnicodeAttribute()


class Dossier(Model):
    class Meta(_Meta):
        table_name = config.get("DOSSIERS_TABLE")

    team_id = UnicodeAttribute(hash_key=True)
    dossier_id = UnicodeAttribute(range_key=True)
    team_email = UnicodeAttribute()
    client_email = UnicodeAttribute()
    title = UnicodeAttribute()
    fields = JSONAttribute(default=dict)
    consent = JSONAttribute(null=True)
    documents = ListAttribute(of=DocumentRef, default=list)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute(null=True)
    restricted = BooleanAttribute(null=True)
    objection = JSONAttribute(null=True)
    opt_out = JSONAttribute(null=True)  # the client opted out of the sale or sharing of their data

    by_client = ClientIndex()


class StatusIndex(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    team_status = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)


class DueIndex(GlobalSecondaryIndex):
    """Sparse: only verified, open requests carry `open_due`, so the daily reminder reads just those."""

    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    open_due = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class TeamDueIndex(GlobalSecondaryIndex):
    """A team's requests by due date, for lists sorted by the legal deadline."""

    class Meta:
        index_name = "by_team_due"
        projection = AllProjection()

    team_id = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class RequesterIndex(GlobalSecondaryIndex):
    """A client's requests in a team (team_id#email): erasure finds the client's earlier exports with it."""

    class Meta:
        index_name = "by_requester"
        projection = AllProjection()

    team_email = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)


class ChoreIndex(GlobalSecondaryIndex):
    """Sparse: a closed request waiting for housekeeping (`sweep` after an erasure, then `scrub`) at `chore_at`."""

    class Meta:
        index_name = "by_chore"
        projection = AllProjection()

    chore = UnicodeAttribute(hash_key=True)
    chore_at = UnicodeAttribute(range_key=True)


class PrivacyRequest(Model):
    class Meta(_Meta):
        table_name = config.get("REQUESTS_TABLE")
        stream_view_type = "NEW_AND_OLD_IMAGES"

    team_id = UnicodeAttribute(hash_key=True)
    request_id = UnicodeAttribute(range_key=True)
    team_status = UnicodeAttribute()
    type = UnicodeAttribute()
    status = UnicodeAttribute()
    email = UnicodeAttribute()
    team_email = UnicodeAttribute(null=True)
    message = UnicodeAttribute(null=True)
    # What the client asked for, read with the team's settings when writing to them (languages.for_client):
    # the portal's explicit choice, and their browser's Accept-Language.
    locale = UnicodeAttribute(null=True)
    accept_language = UnicodeAttribute(null=True)
    received_at = UnicodeAttribute()
    due_at = UnicodeAttribute()
    original_due_at = UnicodeAttribute(null=True)
    extension_months = NumberAttribute(default=0)
    extension_reason = UnicodeAttribute(null=True)
    regime = UnicodeAttribute(null=True)  # the law it was made under (regimes.py); none: gdpr, as before regimes
    extension_days = NumberAttribute(null=True)  # what a regime counting days granted (extension_months: months)
    receipt_due_at = UnicodeAttribute(null=True)  # when the receipt must be confirmed by (CCPA)
    retain_days = NumberAttribute(null=True)  # kept this long after closing before pseudonymisation, at least
    gpc = BooleanAttribute(null=True)  # an opt-out made by the browser's Global Privacy Control signal
    paused_at = UnicodeAttribute(null=True)  # waiting for the client's clarification since (UK GDPR Art. 12A)
    paused_days = NumberAttribute(null=True)  # days the clock stood still, in all
    clarification_question = UnicodeAttribute(null=True)
    clarification_answer = UnicodeAttribute(null=True)
    appealed_at = UnicodeAttribute(null=True)  # a denied client appealed (US state laws); answered by due_at
    appeal_reason = UnicodeAttribute(null=True)
    first_denial_reason = UnicodeAttribute(null=True)  # the denial the appeal was against
    verified_at = UnicodeAttribute(null=True)
    # Each (re)send of the verification email bumps this; the stream handler sends one email per value.
    verification_sends = NumberAttribute(default=1)
    # When each verification email of the last 24 h was triggered: the re-send cap counts a rolling window.
    verification_sent_at = ListAttribute(null=True)
    started_at = UnicodeAttribute(null=True)
    completed_at = UnicodeAttribute(null=True)
    executed_by = ActorAttribute(null=True)
    result = JSONAttribute(null=True)
    progress = JSONAttribute(null=True)
    # While a worker slice runs: the time until which it holds the request (see execution.work).
    lease_until = UnicodeAttribute(null=True)
    failure_reason = UnicodeAttribute(null=True)
    note = UnicodeAttribute(null=True)
    denial_reason = UnicodeAttribute(null=True)
    denial_basis = UnicodeAttribute(null=True)  # schemas.DENIAL_BASES; none: other
    export_key = UnicodeAttribute(null=True)
    reminders = JSONAttribute(null=True)
    lock_key = UnicodeAttribute(null=True)
    open_due = UnicodeAttribute(null=True)
    lifted_at = UnicodeAttribute(null=True)
    cancelled_by = ActorAttribute(null=True)
    export_erased_at = UnicodeAttribute(null=True)
    # Accountability (Art. 5(2)): what happened to the request, when and by whom — appended, never rewritten.
    # Its entries form a hash chain (request_record.py); `history_head` is the last entry's hash, and every
    # append is conditional on it, so two writers can't fork the chain and a removed tail shows.
    history = ListAttribute(null=True)
    history_head = UnicodeAttribute(null=True)
    # What went wrong that the team must see (an email that can't be sent, nobody to notify).
    alerts = ListAttribute(null=True)
    # Housekeeping after closing: a follow-up erasure sweep, then pseudonymisation (see housekeeping.py).
    chore = UnicodeAttribute(null=True)
    chore_at = UnicodeAttribute(null=True)
    sweep = JSONAttribute(null=True)
    # Art. 19 (recipients.py): when the module's own work was done, and one task per connected system to tell.
    work_done_at = UnicodeAttribute(null=True)
    recipients = JSONAttribute(null=True)
    recipients_rev = NumberAttribute(null=True)  # bumped by every change to `recipients`: the write condition
    pseudonymised_at = UnicodeAttribute(null=True)
    # Set while unverified: DynamoDB TTL removes the abandoned request (and its personal data) lazily.
    expires_at = TTLAttribute(null=True)

    by_status = StatusIndex()
    by_due = DueIndex()
    by_team_due = TeamDueIndex()
    by_requester = RequesterIndex()
    by_chore = ChoreIndex()


class Marker(Model):
    """Small guard items: 'this email was sent', 'an open request holds this key', rate-limit counters."""

    class Meta(_Meta):
        table_name = config.get("MARKERS_TABLE")

    pk = UnicodeAttribute(hash_key=True)
    value = UnicodeAttribute(null=True)
    count = NumberAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class System(Model):
    """Another application that receives the team's clients' data and must be told of requests (Art. 19): a
    webhook the module calls, or a manual one whose owner acts by hand."""

    class Meta(_Meta):
        table_name = config.get("SYSTEMS_TABLE")

    team_id = UnicodeAttribute(hash_key=True)
    system_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    kind = UnicodeAttribute()  # "webhook" | "manual"
    url = UnicodeAttribute(null=True)  # webhook
    owner_email = UnicodeAttribute(null=True)  # manual
    request_types = ListAttribute(of=UnicodeAttribute)
    completion = UnicodeAttribute(null=True)  # webhook: "callback" | "2xx"
    # Webhook signing secrets, newest last: [{"secret", "created_at", "expires_at"}]; expires_at is null for the
    # current one and a day after rotation for the previous one, so receivers can switch without losing events.
    secrets = JSONAttribute(null=True)
    disabled_at = UnicodeAttribute(null=True)
    disabled_reason = UnicodeAttribute(null=True)
    # New each time the id is created: work bound to a deleted system never reaches one re-created under its id.
    generation = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class ConsoleSession(Model):
    """A signed-in person's console session (sessions.py). It lives in the markers table, keyed
    `session#<sha256 of the cookie's id>`: whoever reads the table can't use what it holds."""

    class Meta(_Meta):
        table_name = config.get("MARKERS_TABLE")

    pk = UnicodeAttribute(hash_key=True)
    email = UnicodeAttribute()
    csrf = UnicodeAttribute()
    signed_in_with = UnicodeAttribute()  # "link" | "oidc"
    created_at = UnicodeAttribute()
    seen_at = UnicodeAttribute()
    ends_at = UnicodeAttribute()  # the absolute end, whatever the activity
    expires_at = TTLAttribute()  # DynamoDB's lazy clean-up: the idle end, never after ends_at


ALL_MODELS = (Member, TeamSettings, Dossier, PrivacyRequest, Marker, System)
