"""One JSON schema per request body, compiled by fastjsonschema (pure Python, light at cold start).

The same schemas are written into openapi.yaml (devtools/openapi.py), so the spec and the checks can't drift.
A rejection names the field: `fastjsonschema` reports paths such as `data.fields`, shown as `body.fields`.
"""
import functools

from . import text
from .errors import BadRequest

REQUEST_TYPES = ["erasure", "access", "portability", "rectification", "restriction", "objection", "opt_out_sale"]
# The laws a request may fall under (regimes.py: each one's clock and rights); kept here as plain codes so the
# schemas, and so openapi.yaml, don't import the clock.
REGIMES = ["gdpr", "uk_gdpr", "ccpa", "vcdpa", "cpa", "ctdpa", "tdpsa", "ocpa", "lgpd", "fadp", "quebec", "pipeda"]

# Why a request was denied, as the yearly report (report.py, CCPA §7102) counts denials.
DENIAL_BASES = ["unverified", "exemption", "unfounded", "excessive", "no_data", "other"]

_email = {"type": "string", "minLength": 3, "maxLength": 254}
_text = {"type": "string", "maxLength": 2000}
# Any code here; whether the product has that language is checked in code (languages.check), since the
# languages are the catalogs shipped and the spec shouldn't change when one is added.
_locale = {"type": "string", "minLength": 2, "maxLength": 35}
_https_url = {"type": ["string", "null"], "maxLength": 2000, "pattern": "^https://[^\\s]+$"}

SCHEMAS = {
    "member_put": {
        "type": "object",
        "additionalProperties": False,
        "required": ["email", "name", "role"],
        "properties": {
            "email": _email,
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "role": {"enum": ["admin", "member"]},
        },
    },
    "settings_patch": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "consent_capture_enabled": {"type": "boolean"},
            "consent_text": {"type": ["string", "null"], "maxLength": 10000},
            "policy_links_enabled": {"type": "boolean"},
            "privacy_policy_url": _https_url,
            "terms_of_service_url": _https_url,
            "portal_privacy_banner_enabled": {"type": "boolean"},
            "privacy_officer_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 100},
            "locale": _locale,
            "locales": {"type": ["array", "null"], "items": _locale, "minItems": 1, "maxItems": 50,
                        "uniqueItems": True},
            "processing_purposes": {"type": ["string", "null"], "maxLength": 5000},
            "data_recipients": {"type": ["string", "null"], "maxLength": 5000},
            "retention_period": {"type": ["string", "null"], "maxLength": 2000},
            "supervisory_authority": {"type": ["string", "null"], "maxLength": 2000},
            "embed_origins": {"type": ["array", "null"], "items": {"type": "string", "maxLength": 300},
                              "maxItems": 20, "uniqueItems": True},
            "logo_url": _https_url,
            "accent_color": {"type": ["string", "null"], "pattern": "^#[0-9a-fA-F]{6}$"},
            "regime": {"enum": REGIMES},
            "regimes": {"type": ["array", "null"], "items": {"enum": REGIMES}, "minItems": 1, "uniqueItems": True},
        },
    },
    "dossier_create": {
        "type": "object",
        "additionalProperties": False,
        "required": ["client_email", "title"],
        "properties": {
            "client_email": _email,
            "title": {"type": "string", "minLength": 1, "maxLength": 300},
            "fields": {"type": "object", "maxProperties": 200},
            "consent": {
                "type": "object",
                "additionalProperties": False,
                "required": ["accepted"],
                # version: the wording the client was shown (from the portal); refused if it is no longer current
                "properties": {"accepted": {"type": "boolean"}, "version": {"type": "integer", "minimum": 0}},
            },
        },
    },
    "dossier_patch": {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 300},
            "fields": {"type": "object", "maxProperties": 200},
        },
    },
    "dossier_search": {
        "type": "object",
        "additionalProperties": False,
        "required": ["client_email"],
        # next: the `next` of the previous page (null or absent for the first)
        "properties": {"client_email": _email, "next": {"type": ["string", "null"], "maxLength": 2000}},
    },
    "document_create": {
        "type": "object",
        "additionalProperties": False,
        "required": ["filename", "content_base64"],
        "properties": {
            "filename": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[^/\\\\\\x00-\\x1f]+$"},
            "content_base64": {"type": "string", "minLength": 0, "maxLength": 5_600_000},
            # Sent to S3 as a header: printable ASCII only (a newline or non-ASCII made botocore raise, a 500).
            "content_type": {"type": "string", "maxLength": 200, "pattern": "^[\\x20-\\x7e]*$"},
        },
    },
    "portal_request": {
        "type": "object",
        "additionalProperties": False,
        "required": ["email", "type"],
        "properties": {
            "email": _email,
            "type": {"enum": REQUEST_TYPES},
            "message": _text,
            "locale": _locale,
            # Any string here: whether this team offers it is checked in code (regimes.choose), naming body.regime.
            "regime": {"type": "string", "minLength": 1, "maxLength": 40},
        },
    },
    "consent_withdraw": {
        "type": "object",
        "additionalProperties": False,
        "required": ["email"],
        "properties": {"email": _email, "locale": _locale},
    },
    "execute": {
        "type": "object",
        "additionalProperties": False,
        "required": ["confirm"],
        "properties": {"confirm": {"type": "boolean"}, "note": _text},
    },
    "extend": {
        "type": "object",
        "additionalProperties": False,
        # months: the GDPR's (and UK GDPR's) choice of 1 or 2; other laws extend by their one fixed period.
        "required": ["reason"],
        "properties": {"months": {"enum": [1, 2]}, "reason": {"type": "string", "minLength": 1, "maxLength": 2000}},
    },
    "deny": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        # basis: why, as the yearly report counts denials (reason: the words the client reads); default other
        "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000},
                       "basis": {"enum": DENIAL_BASES}},
    },
    "system_put": {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "kind"],
        # By kind (checked in systems.put, with clearer errors than a oneOf): webhook needs url (completion,
        # rotate_secret optional); manual needs owner_email.
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "kind": {"enum": ["webhook", "manual"]},
            "url": {"type": "string", "minLength": 1, "maxLength": 2000},
            "owner_email": _email,
            "request_types": {"type": "array", "minItems": 1, "maxItems": 4, "uniqueItems": True,
                              "items": {"enum": ["erasure", "rectification", "restriction", "opt_out_sale"]}},
            "completion": {"enum": ["callback", "2xx"]},
            "rotate_secret": {"type": "boolean"},
        },
    },
    "empty": {"type": "object", "additionalProperties": False, "properties": {}},
    "clarify": {
        "type": "object",
        "additionalProperties": False,
        "required": ["question"],
        "properties": {"question": {"type": "string", "minLength": 1, "maxLength": 2000}},
    },
    "clarification": {
        "type": "object",
        "additionalProperties": False,
        "required": ["answer"],
        "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": 2000}},
    },
    "appeal": {
        "type": "object",
        "additionalProperties": False,
        "properties": {"reason": {"type": "string", "maxLength": 2000}},
    },
    "recipient_answer": {
        "type": "object",
        "additionalProperties": False,
        "required": ["status"],
        "properties": {"status": {"enum": ["completed", "not_found", "failed"]},
                       "note": {"type": ["string", "null"], "maxLength": 2000}},
    },
}


# What a JSON schema can't say: which strings a person reads, and so may not hide characters (see text.py).
LABEL, TITLE, MULTILINE, FIELDS = "label", "title", "multiline", "fields"
TEXT_RULES = {
    "member_put": {"name": TITLE},
    "settings_patch": {"privacy_policy_url": LABEL, "terms_of_service_url": LABEL, "privacy_officer_id": LABEL,
                       "logo_url": LABEL,
                       "consent_text": MULTILINE, "processing_purposes": MULTILINE, "data_recipients": MULTILINE,
                       "retention_period": MULTILINE, "supervisory_authority": MULTILINE},
    "dossier_create": {"title": TITLE, "fields": FIELDS},
    "dossier_patch": {"title": TITLE, "fields": FIELDS},
    "document_create": {"filename": LABEL},
    "portal_request": {"message": MULTILINE},
    "execute": {"note": MULTILINE},
    "extend": {"reason": MULTILINE},
    "deny": {"reason": MULTILINE},
    "clarify": {"question": MULTILINE},
    "clarification": {"answer": MULTILINE},
    "appeal": {"reason": MULTILINE},
    "recipient_answer": {"note": MULTILINE},
    "system_put": {"name": TITLE, "url": LABEL},
}


def _check_text(name: str, data: dict) -> None:
    for key, rule in TEXT_RULES.get(name, {}).items():
        value, where = data.get(key), f"body.{key}"
        if not isinstance(value, (str, dict)):
            continue  # absent or null
        if rule == FIELDS:
            _check_fields(value, where)
        elif rule == MULTILINE:
            text.check_multiline(value, where)
        else:
            text.check_label(value, where, emoji_joiner=rule == TITLE)


def _check_fields(fields: dict, path: str) -> None:
    """A dossier's fields, at any depth: names are labels, string values multi-line text (iterative, as
    json.loads nests deeper than a recursive walk may go)."""
    pending = [(fields, path)]
    while pending:
        value, where = pending.pop()
        if isinstance(value, str):
            text.check_multiline(value, where)
        elif isinstance(value, dict):
            for key, item in value.items():
                text.check_label(key, where, emoji_joiner=True, what=f"a field name in {where}")
                pending.append((item, f"{where}.{key}"))
        elif isinstance(value, list):
            pending += [(item, f"{where}[{index}]") for index, item in enumerate(value)]


@functools.lru_cache(maxsize=None)
def _validator(name: str):
    import fastjsonschema  # imported (and each schema compiled) on first use: light cold starts

    return fastjsonschema.compile(SCHEMAS[name])


def validate(name: str, body) -> dict:
    try:
        data = _validator(name)(body)
    except _invalid() as exc:
        raise BadRequest(exc.message.replace("data", "body", 1), field=exc.name.replace("data", "body", 1)) from None
    _check_text(name, data)
    return data


def _invalid():
    from fastjsonschema import JsonSchemaValueException

    return JsonSchemaValueException
