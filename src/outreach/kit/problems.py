"""RFC 9457 problem details: one shape for every error, the framework's own included."""

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from outreach.errors import AppError, FieldError
from outreach.kit.jsondepth import JSON_TOO_DEEP, JsonTooDeep
from outreach.kit.outage import RETRY_AFTER_SECONDS, is_unreachable, outage
from outreach.kit.pagination import CURSOR_INVALID
from outreach.kit.text import CONTROL_CHARACTERS
from outreach.kit.times import DATETIME_OUT_OF_RANGE

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
_CODE_PATTERN = re.compile(r"^[A-Z][A-Z0-9_]+$")

# pydantic's own error types, named in the API's vocabulary
_PYDANTIC_CODES = {
    "missing": "FIELD_REQUIRED",
    "extra_forbidden": "FIELD_UNKNOWN",
    "json_invalid": "JSON_INVALID",
    "uuid_parsing": "UUID_INVALID",
    "uuid_type": "UUID_INVALID",
    "enum": "VALUE_NOT_ALLOWED",
    "literal_error": "VALUE_NOT_ALLOWED",
    "string_too_short": "VALUE_TOO_SHORT",
    "string_too_long": "VALUE_TOO_LONG",
    "too_long": "TOO_MANY_ITEMS",
    "greater_than_equal": "VALUE_TOO_SMALL",
    "greater_than": "VALUE_TOO_SMALL",
    "less_than_equal": "VALUE_TOO_LARGE",
    "less_than": "VALUE_TOO_LARGE",
}


class FieldErrorOut(BaseModel):
    field: str
    code: str
    message: str


class Problem(BaseModel):
    """An error, as `application/problem+json`."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[FieldErrorOut] = []
    request_id: str | None = None


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    errors: list[FieldError] | None = None,
    request_id: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://outreach.dev/errors/{code.lower().replace('_', '-')}",
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    if request_id:
        body["request_id"] = request_id
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def field_error(error: dict[str, Any]) -> FieldError:
    """One of pydantic's errors, in the API's vocabulary."""
    location = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
    kind = str(error.get("type", ""))
    code = kind if _CODE_PATTERN.match(kind) else _PYDANTIC_CODES.get(kind, "VALUE_INVALID")
    message = str(error.get("msg", "Invalid value"))
    return FieldError(field=".".join(location) or "body", code=code, message=message)


def field_errors_to_problem(errors: list[FieldError], request_id: str | None) -> JSONResponse:
    """One error: its code is the problem's code; several: VALIDATION_ERROR with the list."""
    if len(errors) == 1:
        code, title = errors[0].code, errors[0].message
    else:
        code, title = "VALIDATION_ERROR", "The request is not valid"
    return problem_response(422, code, title, errors=errors, request_id=request_id)


async def _app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return problem_response(
        exc.status,
        exc.code,
        exc.title,
        exc.detail,
        exc.errors,
        _request_id(request),
        exc.extra,
        exc.headers,
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [field_error(dict(e)) for e in exc.errors()]
    return field_errors_to_problem(errors, _request_id(request))


_HTTP_CODES = {
    400: ("BAD_REQUEST", "Bad request"),
    401: ("UNAUTHORIZED", "Authentication required"),
    403: ("FORBIDDEN", "You do not have permission to do this"),
    404: ("NOT_FOUND", "Resource not found"),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed"),
    406: ("NOT_ACCEPTABLE", "Not acceptable"),
    413: ("PAYLOAD_TOO_LARGE", "Request body too large"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "Unsupported media type"),
}


async def _json_too_deep(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JsonTooDeep)
    return problem_response(
        422, JSON_TOO_DEEP, exc.detail, "Flatten the JSON.", request_id=_request_id(request)
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_CODES.get(exc.status_code, ("HTTP_ERROR", "HTTP error"))
    return problem_response(
        exc.status_code, code, title, request_id=_request_id(request), headers=exc.headers
    )


# Text PostgreSQL cannot store: a NUL character ("\\u0000") in a string or in JSON.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


def database_unavailable(request_id: str | None = None) -> JSONResponse:
    return problem_response(
        503,
        "DATABASE_UNAVAILABLE",
        "The database is unreachable",
        f"Try again in {RETRY_AFTER_SECONDS} seconds.",
        request_id=request_id,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    if is_unreachable(exc):  # logged once per outage, not per request
        outage.failed(exc)
        return database_unavailable(_request_id(request))
    assert isinstance(exc, DBAPIError)
    # The server refuses NUL in JSON; psycopg itself refuses it in text parameters.
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _UNSTORABLE_TEXT or "NUL (0x00)" in str(exc.orig):
        return problem_response(
            422,
            "TEXT_INVALID",
            "Text cannot contain NUL characters",
            "Remove \\u0000 from the strings of the request.",
            request_id=_request_id(request),
        )
    return await _unexpected_error(request, exc)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = _request_id(request)
    log.exception("unhandled error (request_id=%s)", request_id, exc_info=exc)
    # Starlette answers unhandled errors from its outermost middleware, outside the
    # request-id middleware, so this response must carry the X-Request-ID header itself.
    return problem_response(
        500,
        "INTERNAL_ERROR",
        "Internal server error",
        "Something went wrong on our side; quote the request_id when reporting it.",
        request_id=request_id,
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(JsonTooDeep, _json_too_deep)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(PoolTimeout, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)


# Where a route declares the codes of its own in a response (read by `outreach.kit.openapi`).
CODES_KEY = "x-problem-codes"
_FIELD_CODES = (
    *_PYDANTIC_CODES.values(),
    "VALUE_INVALID",
    CONTROL_CHARACTERS,
    DATETIME_OUT_OF_RANGE,
)
# The codes any route may answer with each status, whatever it does.
STATUS_CODES: dict[int, tuple[str, ...]] = {
    401: ("UNAUTHORIZED",),
    403: ("FORBIDDEN",),
    404: ("NOT_FOUND",),
    413: ("PAYLOAD_TOO_LARGE",),
    422: ("VALIDATION_ERROR", "TEXT_INVALID", JSON_TOO_DEEP, *_FIELD_CODES),
    429: ("RATE_LIMITED",),
    503: ("DATABASE_UNAVAILABLE",),
}
# ... of a route that takes an Idempotency-Key, and of a list that takes a cursor.
IDEMPOTENCY_CODES = {409: ("IDEMPOTENCY_KEY_IN_PROGRESS",), 422: ("IDEMPOTENCY_KEY_REUSED",)}
CURSOR_CODES = {422: (CURSOR_INVALID,)}


def problem_responses(
    *statuses: int, codes: Mapping[int, Iterable[str]] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: each listed status, 422 (any parameter can be invalid)
    and 503 (any route needs the database), documented as a Problem. Any body may also be
    413 PAYLOAD_TOO_LARGE. `codes` are the route's own machine codes per status (beyond
    those of `STATUS_CODES`): the document lists them as the enum of the problem's `code`."""
    descriptions = {
        401: "Missing, invalid or expired token",
        403: "The caller's role may not do this",
        404: "Not found, or belongs to another organization",
        409: "Conflicts with the resource's state",
        413: "The body is larger than this route takes",
        422: "Invalid input: VALIDATION_ERROR (several problems, each in `errors`) or the code "
        "of the one problem (TEXT_CONTROL_CHARACTERS: a line break or another control "
        "character in text that must stay on one line; JSON_TOO_DEEP: a body nested deeper "
        "than 64 levels; DATETIME_OUT_OF_RANGE: a time beyond year 9999 or before year 1 in UTC)",
        429: "Too many requests: try again after Retry-After",
        502: "A server this service connects to (a sender's SMTP server) refused or failed",
        503: "The database is unreachable: try again after Retry-After",
    }
    own = {status: list(dict.fromkeys(listed)) for status, listed in (codes or {}).items()}
    undeclared = set(own) - {*statuses, 422, 503}
    if undeclared:
        raise ValueError(f"codes given for statuses not listed: {sorted(undeclared)}")
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "model": Problem,
            "description": descriptions.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
            CODES_KEY: own.get(status, []),
        }
        for status in sorted({*statuses, 422, 503})
    }
