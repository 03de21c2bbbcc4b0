"""List cursors as the API and the console hand them out: a DynamoDB key, as unpadded base64url JSON."""
import base64
import binascii
import json

from .errors import BadRequest


def encode(key: dict | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=") if key else None


def decode(token: str | None, field: str = "next") -> dict | None:
    """A cursor from a query string or a body (`field` names it in the 400)."""
    if not token:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)))
        # Only key attributes come back as cursors: {"name": {"S": "text"}}.
        if not isinstance(value, dict) or not value or not all(
                isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str) for v in value.values()):
            raise ValueError
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(f"{field} is not a cursor this API returned", field=field) from None
