"""Telling a passing AWS fault (throttling, an outage, a timeout) from one that retrying can't fix."""
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError as BotoConnectionError, HTTPClientError
from pynamodb.exceptions import PynamoDBException

THROTTLING = {"ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
              "Throttling", "SlowDown", "TransactionInProgressException"}
OUTAGE = {"ServiceUnavailable", "InternalFailure", "InternalError", "InternalServerError", "RequestTimeout",
          "RequestTimeoutException", "ServiceUnavailableException", "LimitExceededException"}


def aws_code(exc) -> str | None:
    if isinstance(exc, PynamoDBException):
        if exc.cause_response_code:
            return exc.cause_response_code
        cause = getattr(exc, "cause", None)
        return aws_code(cause) if isinstance(cause, (ClientError, PynamoDBException)) else None
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def is_transient(exc: BaseException) -> bool:
    """True when the same call may well succeed later: worth a retry, never worth giving up on."""
    if isinstance(exc, (BotoConnectionError, HTTPClientError)):
        return True
    if isinstance(exc, PynamoDBException):
        cause = getattr(exc, "cause", None)
        if cause is not None and cause is not exc and isinstance(cause, BaseException):
            return is_transient(cause)
        return aws_code(exc) in THROTTLING | OUTAGE
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return aws_code(exc) in THROTTLING | OUTAGE or status >= 500
    return isinstance(exc, BotoCoreError)
