"""One JSON schema per request body, compiled by fastjsonschema (pure Python, light at cold start).

The same schemas are written into openapi.yaml (devtools/openapi.py), so the spec and the checks can't drift.
A rejection names the field: `fastjsonschema` reports paths such as `data.fields`, shown as `body.fields`.
"""
import functools

import fastjsonschema

from .errors import BadRequest

REQUEST_TYPES = ["erasure", "access", "portability", "rectification", "restriction", "objection"]
LOCALES = ["en", "fr"]

_email = {"type": "string", "minLength": 3, "maxLength": 254}
_text = {"type": "string", "maxLength": 2000}
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
            "locale": {"enum": LOCALES},
            "processing_purposes": {"type": ["string", "null"], "maxLength": 5000},
            "data_recipients": {"type": ["string", "null"], "maxLength": 5000},
            "retention_period": {"type": ["string", "null"], "maxLength": 2000},
            "supervisory_authority": {"type": ["string", "null"], "maxLength": 2000},
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
            "locale": {"enum": LOCALES},
        },
    },
    "consent_withdraw": {
        "type": "object",
        "additionalProperties": False,
        "required": ["email"],
        "properties": {"email": _email, "locale": {"enum": LOCALES}},
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
        "required": ["months", "reason"],
        "properties": {"months": {"enum": [1, 2]}, "reason": {"type": "string", "minLength": 1, "maxLength": 2000}},
    },
    "deny": {
        "type": "object",
        "additionalProperties": False,
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "minLength": 1, "maxLength": 2000}},
    },
    "empty": {"type": "object", "additionalProperties": False, "properties": {}},
}


@functools.lru_cache(maxsize=None)
def _validator(name: str):
    return fastjsonschema.compile(SCHEMAS[name])


def validate(name: str, body) -> dict:
    try:
        return _validator(name)(body)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise BadRequest(exc.message.replace("data", "body", 1), field=exc.name.replace("data", "body", 1)) from None
