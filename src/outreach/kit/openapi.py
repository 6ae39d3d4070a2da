"""The OpenAPI document as client generators want it, by convention rather than per route.

- Operation ids are the route function's name in camelCase (`list_campaigns` ->
  `listCampaigns`), so a new route gets a short, stable id by being named well.
- Every problem response's `code` is an enum: the codes any route can answer with that status
  (`outreach.kit.problems.STATUS_CODES`), those of a route that takes `Idempotency-Key` or a
  cursor, and those the route declares (`problem_responses(..., codes={409: [...]})`).
- Headers: `X-Request-ID` on every answer, `Idempotent-Replayed` on the answers of a route that
  takes `Idempotency-Key`, `Retry-After` on 429 and 503, `RateLimit-*` on 429.
- A route that needs a caller (it has `security`) counts against the caller's request budget:
  it may answer 429 RATE_LIMITED, and its successful answers carry `RateLimit-*`.
- Bodies a route reads itself (a signed body, say) are documented by `documented_body`.
"""

import copy
import json
import re
from collections.abc import Callable, Iterable
from importlib.resources import files
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel

from outreach.kit.problems import (
    CODES_KEY,
    CURSOR_CODES,
    IDEMPOTENCY_CODES,
    PROBLEM_MEDIA_TYPE,
    STATUS_CODES,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")

HEADERS: dict[str, dict[str, Any]] = {
    "X-Request-ID": {
        "description": "The request's id, as in the logs (the caller's own X-Request-ID when "
        "it sent a printable one of up to 64 characters)",
        "schema": {"type": "string", "maxLength": 64},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the "
        "same Idempotency-Key (nothing was done again)",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Limit": {
        "description": "Requests allowed in the current window",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window ends",
        "schema": {"type": "integer", "minimum": 0},
    },
}
RATE_LIMIT_HEADERS = ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
BUDGET_HEADERS = RATE_LIMIT_HEADERS[1:]

_EXTRA_SCHEMAS: dict[str, type[BaseModel]] = {}


def camel_case(name: str) -> str:
    head, *rest = [part for part in re.split(r"[^A-Za-z0-9]+", name) if part]
    return head[0].lower() + head[1:] + "".join(part[0].upper() + part[1:] for part in rest)


def operation_id(route: APIRoute) -> str:
    """FastAPI's `generate_unique_id_function`: the route function's name, in camelCase."""
    return camel_case(route.name)


def documented_body(
    model: type[BaseModel], media_type: str = "application/json", description: str = ""
) -> dict[str, Any]:
    """`openapi_extra` of a route that reads its body itself (to check a signature over the
    raw bytes, say): documents `model` as the body and adds it to the components."""
    _EXTRA_SCHEMAS[model.__name__] = model
    body: dict[str, Any] = {
        "required": True,
        "content": {media_type: {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }
    if description:
        body["description"] = description
    return {"requestBody": body}


def install(app: FastAPI) -> None:
    """Replaces `app.openapi` with one that finishes FastAPI's document (once per build)."""
    build: Callable[[], dict[str, Any]] = app.openapi
    finished: dict[int, dict[str, Any]] = {}

    def openapi() -> dict[str, Any]:
        document = build()
        if id(document) not in finished:
            finished.clear()
            finished[id(document)] = finish(copy.deepcopy(document))
        return finished[id(document)]

    app.openapi = openapi  # type: ignore[method-assign]


# Real answers of the main routes (scripts/openapi-examples writes them), set after FastAPI
# has built the document: FastAPI drops every null from it, which an example must keep.
RESPONSE_EXAMPLES = files("outreach") / "openapi_examples.json"


def finish(document: dict[str, Any]) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name, model in _EXTRA_SCHEMAS.items():
        _add_model(schemas, name, model)
    for name, example in json.loads(RESPONSE_EXAMPLES.read_text()).items():
        schemas[name]["examples"] = [example]
    components["headers"] = HEADERS
    problem = schemas.get("Problem")
    for item in document.get("paths", {}).values():
        for method in METHODS:
            if method in item:
                _finish_operation(item[method], problem, schemas)
    return document


def _add_model(schemas: dict[str, Any], name: str, model: type[BaseModel]) -> None:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for nested_name, nested in schema.pop("$defs", {}).items():
        schemas.setdefault(nested_name, nested)
    schemas[name] = schema


def _header_refs(names: Iterable[str]) -> dict[str, Any]:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in names}


def _finish_operation(
    operation: dict[str, Any], problem: dict[str, Any] | None, schemas: dict[str, Any]
) -> None:
    parameters = operation.get("parameters", [])
    idempotent = any(
        p.get("in") == "header" and p.get("name") == IDEMPOTENCY_HEADER for p in parameters
    )
    paged = any(p.get("in") == "query" and p.get("name") == "cursor" for p in parameters)
    counted = bool(operation.get("security"))
    responses = operation.setdefault("responses", {})
    if counted and problem is not None and "429" not in responses:
        responses["429"] = {
            "description": "Too many requests: try again after Retry-After",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        operation["responses"] = responses = dict(sorted(responses.items()))
    for status, response in responses.items():
        declared = response.pop(CODES_KEY, [])
        headers = ["X-Request-ID"]
        if status.startswith("2") and idempotent:
            headers.append("Idempotent-Replayed")
        if status.startswith("2") and counted:
            headers.extend(BUDGET_HEADERS)
        if status == "429":
            headers.extend(RATE_LIMIT_HEADERS)
        if status == "503":
            headers.append("Retry-After")
        response.setdefault("headers", {}).update(_header_refs(headers))
        content = response.get("content", {})
        if problem is None or PROBLEM_MEDIA_TYPE not in content:
            continue
        # FastAPI documents a response's model as JSON too; problems are only ever problem+json.
        content.pop("application/json", None)
        codes = [*STATUS_CODES.get(int(status), ()), *declared]
        if idempotent:
            codes.extend(IDEMPOTENCY_CODES.get(int(status), ()))
        if paged:
            codes.extend(CURSOR_CODES.get(int(status), ()))
        content[PROBLEM_MEDIA_TYPE]["schema"] = _problem_schema(
            sorted(set(codes)), problem, schemas
        )


def _problem_schema(
    codes: list[str], problem: dict[str, Any], schemas: dict[str, Any]
) -> dict[str, Any]:
    """The Problem schema with `code` narrowed to `codes`: a shared component when it is one
    code (`NotFoundProblem`), else inline (generators name it after the operation)."""
    schema = copy.deepcopy(problem)
    schema["properties"]["code"] = {
        "type": "string",
        "enum": codes,
        "title": "Code",
        "description": "The machine code of the problem",
    }
    if len(codes) != 1:
        schema.pop("title", None)
        return schema
    name = camel_case(codes[0].lower())
    name = name[0].upper() + name[1:] + "Problem"
    schema["title"] = name
    schemas[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}
