"""Domain errors. Each names an HTTP status so the web layer can answer `{"Code", "Message"}` without
domain code knowing about HTTP frameworks."""


class DomainError(Exception):
    status = 400
    code = "BadRequestError"

    def __init__(self, message: str, **extra):
        super().__init__(message)
        self.message = message
        self.extra = extra


class BadRequest(DomainError):
    status, code = 400, "BadRequestError"


class Unauthorized(DomainError):
    status, code = 401, "UnauthorizedError"


class Forbidden(DomainError):
    status, code = 403, "ForbiddenError"


class NotFound(DomainError):
    status, code = 404, "NotFoundError"


class Conflict(DomainError):
    status, code = 409, "ConflictError"


class Gone(DomainError):
    status, code = 410, "GoneError"


class PayloadTooLarge(DomainError):
    status, code = 413, "PayloadTooLargeError"


class Unprocessable(DomainError):
    status, code = 422, "UnprocessableEntityError"


class TooManyRequests(DomainError):
    status, code = 429, "TooManyRequestsError"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class ServiceUnavailable(DomainError):
    """Something this call depends on (an identity provider's keys) didn't answer: worth retrying, not a bug."""
    status, code = 503, "ServiceUnavailable"
