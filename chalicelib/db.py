"""Small helpers around PynamoDB errors and the transaction connection."""
import functools

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError

from .errors import BadRequest


@functools.lru_cache(maxsize=None)
def _connection() -> Connection:
    import os

    return Connection(region=os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION"),
                      max_retry_attempts=5)


def connection() -> Connection:
    return _connection()


def condition_failed(exc: PynamoDBException) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def cancellation_codes(exc: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in (exc.cancellation_reasons or [])]


def cancelled_by_condition(exc: TransactWriteError) -> bool:
    """True when a condition refused the transaction; anything else (throttling, validation) must propagate."""
    return "ConditionalCheckFailed" in cancellation_codes(exc)


def transaction_conflict(exc: TransactWriteError) -> bool:
    return "TransactionConflict" in cancellation_codes(exc)


def check_cursor(cursor: dict | None, fixed: dict[str, str], free: tuple[str, ...], field: str = "next") -> None:
    """A list cursor must hold exactly the keys of the query it continues, with that query's partition values:
    DynamoDB (and moto) fail on any other ExclusiveStartKey, which would answer a 500 instead of a 400."""
    if cursor is None:
        return
    if set(cursor) != set(fixed) | set(free) or any(cursor[k]["S"] != v for k, v in fixed.items()):
        raise BadRequest(f"{field} is not a cursor this API returned", field=field)
