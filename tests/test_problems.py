"""The framework's own errors are problem+json with a machine code, and a 500 leaks nothing."""

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from pydantic import BaseModel, ConfigDict, Field

from outreach.config import Settings
from outreach.db import DatabaseUrls
from outreach.inbound.router import MAX_BODY_BYTES as INBOUND_MAX_BODY_BYTES
from outreach.kit.jsondepth import MAX_JSON_DEPTH
from outreach.main import create_app
from tests.factories import Org, create_campaign

ECHO = "/_test/echo"
BOOM = "/_test/boom"


class EchoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    count: int = 1


@pytest.fixture(scope="module")
def app(settings: Settings, database_urls: DatabaseUrls) -> FastAPI:
    app = create_app(settings, database_urls)

    @app.post(ECHO)
    async def echo(body: EchoIn) -> EchoIn:
        return body

    @app.get(BOOM)
    async def boom() -> None:
        raise RuntimeError("secret detail")

    return app


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def _problem(answer: Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"https://outreach.dev/errors/{code.lower().replace('_', '-')}"
    assert problem["title"]
    return dict(problem)


def test_unknown_path_is_404_not_found(api: TestClient) -> None:
    _problem(api.get("/api/v1/no-such-thing"), 404, "NOT_FOUND")


def test_wrong_method_is_405_method_not_allowed(api: TestClient) -> None:
    answer = api.delete("/healthz")
    _problem(answer, 405, "METHOD_NOT_ALLOWED")
    assert "GET" in answer.headers["allow"]


def test_valid_body_is_accepted(api: TestClient) -> None:
    answer = api.post(ECHO, json={"name": "Ada"})
    assert answer.status_code == 200
    assert answer.json() == {"name": "Ada", "count": 1}


def test_malformed_json_body_is_422_json_invalid(api: TestClient) -> None:
    answer = api.post(ECHO, content=b'{"name": ', headers={"content-type": "application/json"})
    problem = _problem(answer, 422, "JSON_INVALID")
    assert [e["code"] for e in problem["errors"]] == ["JSON_INVALID"]


def test_unknown_body_field_is_422_field_unknown(api: TestClient) -> None:
    problem = _problem(api.post(ECHO, json={"name": "Ada", "org_id": "x"}), 422, "FIELD_UNKNOWN")
    assert problem["errors"] == [
        {"field": "org_id", "code": "FIELD_UNKNOWN", "message": "Extra inputs are not permitted"}
    ]


def test_missing_body_field_is_422_field_required(api: TestClient) -> None:
    problem = _problem(api.post(ECHO, json={}), 422, "FIELD_REQUIRED")
    assert problem["errors"][0]["field"] == "name"


def test_several_invalid_fields_are_422_validation_error_listing_each(api: TestClient) -> None:
    problem = _problem(
        api.post(ECHO, json={"name": "", "count": "many", "extra": 1}), 422, "VALIDATION_ERROR"
    )
    codes = {e["field"]: e["code"] for e in problem["errors"]}
    assert codes == {"name": "VALUE_TOO_SHORT", "count": "VALUE_INVALID", "extra": "FIELD_UNKNOWN"}


def test_unexpected_error_is_500_without_internals(
    api: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="outreach.kit.problems"):
        answer = api.get(BOOM, headers={"X-Request-ID": "req-boom-1"})
    problem = _problem(answer, 500, "INTERNAL_ERROR")
    assert problem["request_id"] == "req-boom-1"
    assert answer.headers["x-request-id"] == "req-boom-1"
    assert "secret detail" not in answer.text
    assert "RuntimeError" not in answer.text
    assert "Traceback" not in answer.text
    assert set(problem) <= {"type", "title", "status", "code", "detail", "request_id"}
    # the details are in the log, under the same request id
    assert any("req-boom-1" in record.getMessage() and record.exc_info for record in caplog.records)


def test_unexpected_error_gets_a_request_id_when_none_is_sent(api: TestClient) -> None:
    problem = _problem(api.get(BOOM), 500, "INTERNAL_ERROR")
    assert isinstance(problem["request_id"], str)
    assert len(problem["request_id"]) >= 16


def test_request_id_is_echoed(api: TestClient) -> None:
    answer = api.get("/healthz", headers={"X-Request-ID": "req-echo-42"})
    assert answer.headers["x-request-id"] == "req-echo-42"


def test_request_id_is_generated_when_none_is_sent(api: TestClient) -> None:
    first = api.get("/healthz").headers["x-request-id"]
    second = api.get("/healthz").headers["x-request-id"]
    assert first
    assert first != second


def test_problem_carries_the_request_id_of_its_request(api: TestClient) -> None:
    answer = api.get("/api/v1/no-such-thing", headers={"X-Request-ID": "req-404"})
    assert _problem(answer, 404, "NOT_FOUND")["request_id"] == "req-404"
    assert answer.headers["x-request-id"] == "req-404"


def test_nul_characters_are_refused_not_a_500(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)
    answer = client.patch(
        f"/api/v1/campaigns/{campaign['id']}",
        json={"description": "before\u0000after"},
        headers=org.headers(),
    )
    assert answer.status_code == 422
    assert answer.json()["code"] == "TEXT_INVALID"
    # A contact's text is refused at the door, row by row, with the other control characters
    rows = [{"email": "nul@example.com", "custom_fields": {"note": "a\u0000b"}}]
    added = client.post(
        f"/api/v1/campaigns/{campaign['id']}/contacts",
        json={"contacts": rows},
        headers=org.headers(),
    )
    assert added.status_code == 200
    (result,) = added.json()["results"]
    assert (result["status"], result["code"]) == ("invalid", "TEXT_CONTROL_CHARACTERS")


def test_a_body_over_the_limit_is_413_before_it_is_parsed(
    api: TestClient, settings: Settings
) -> None:
    body = b'{"name": "' + b"a" * settings.max_body_bytes + b'"}'
    answer = api.post(ECHO, content=body, headers={"content-type": "application/json"})
    _problem(answer, 413, "PAYLOAD_TOO_LARGE")


def test_inbound_bodies_have_their_own_smaller_limit(api: TestClient) -> None:
    body = b"x" * (INBOUND_MAX_BODY_BYTES + 1)
    answer = api.post("/api/v1/inbound/generic", params={"org": str(uuid.uuid4())}, content=body)
    _problem(answer, 413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 900, 100_000])
def test_json_nested_too_deep_is_422_before_it_is_parsed(api: TestClient, depth: int) -> None:
    body = b'{"name": "Ada", "count": ' + b"[" * depth + b"]" * depth + b"}"
    answer = api.post(ECHO, content=body, headers={"content-type": "application/json"})
    _problem(answer, 422, "JSON_TOO_DEEP")


def test_json_up_to_the_depth_limit_reaches_validation(api: TestClient) -> None:
    depth = MAX_JSON_DEPTH - 1
    body = b'{"name": "Ada", "count": ' + b"[" * depth + b"]" * depth + b"}"
    answer = api.post(ECHO, content=body, headers={"content-type": "application/json"})
    _problem(answer, 422, "VALUE_INVALID")
