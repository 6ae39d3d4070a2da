"""Domain errors, each with its HTTP status and machine code, rendered as problem+json.

    AppError                      500 INTERNAL_ERROR
    ├── Unauthorized              401 UNAUTHORIZED
    ├── Forbidden                 403 FORBIDDEN
    ├── NotFound                  404 NOT_FOUND
    ├── Conflict                  409 (INVALID_STATUS_TRANSITION, CAMPAIGN_READ_ONLY, ...)
    ├── ValidationFailed          422 VALIDATION_ERROR or the code of its single field error
    ├── RateLimited               429 RATE_LIMITED
    └── BadGateway                502 (a server we connect to refused: REPLY_NOT_SENT, ...)

Services raise these; `outreach.kit.problems` turns them (and the framework's own errors)
into RFC 9457 responses. A body over its size limit is refused before any route runs
(`outreach.kit.bodylimit`, 413 PAYLOAD_TOO_LARGE).
"""

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class AppError(Exception):
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "INTERNAL_ERROR"
    default_title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.title = title or self.default_title
        self.detail = detail
        self.errors = errors or []
        self.extra = extra or {}
        self.headers = headers or {}  # of the response, e.g. Retry-After
        super().__init__(f"{self.code}: {self.title}")


class Unauthorized(AppError):
    status = 401
    default_code = "UNAUTHORIZED"
    default_title = "Authentication required"


class Forbidden(AppError):
    status = 403
    default_code = "FORBIDDEN"
    default_title = "You do not have permission to do this"


class NotFound(AppError):
    status = 404
    default_code = "NOT_FOUND"
    default_title = "Resource not found"


class Conflict(AppError):
    status = 409
    default_code = "CONFLICT"
    default_title = "The request conflicts with the resource's current state"


class ValidationFailed(AppError):
    status = 422
    default_code = "VALIDATION_ERROR"
    default_title = "The request is not valid"

    def __init__(
        self,
        code: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        errors: list[FieldError] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if code is None and errors and len(errors) == 1:
            # One invalid field: its code is also the problem's code.
            code, title = errors[0].code, title or errors[0].message
        super().__init__(code, title, detail, errors, extra)

    @classmethod
    def field(cls, field: str, code: str, message: str) -> "ValidationFailed":
        return cls(errors=[FieldError(field, code, message)])


class RateLimited(AppError):
    status = 429
    default_code = "RATE_LIMITED"
    default_title = "Too many requests"


class BadGateway(AppError):
    status = 502
    default_code = "BAD_GATEWAY"
    default_title = "A server this service connects to failed"


def not_found(resource: str) -> NotFound:
    return NotFound(title=f"{resource} not found")
