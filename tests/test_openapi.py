"""The OpenAPI document: every route is described well enough to code against."""

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from outreach.auth.tokens import Role
from outreach.campaigns.schemas import CampaignCreate
from outreach.contacts.schemas import BulkAddIn, ContactIn
from outreach.inbound.generic import GenericPayload
from outreach.kit.openapi import RESPONSE_EXAMPLES
from outreach.kit.problems import PROBLEM_MEDIA_TYPE
from outreach.sending.senders.schemas import SenderIn
from outreach.templates.schemas import TemplateIn
from tests.factories import Org, act, create_campaign

METHODS = {"get", "post", "put", "patch", "delete"}


def operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    spec = client.get("/openapi.json").json()
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_route_has_a_summary_and_tags(client: TestClient) -> None:
    for path, method, operation in operations(client):
        assert operation.get("summary"), f"{method.upper()} {path} has no summary"
        assert operation.get("tags"), f"{method.upper()} {path} has no tags"


SIGNED_URL_ROUTES = ("/api/v1/triggers/",)


def test_every_api_route_documents_its_errors(client: TestClient) -> None:
    for path, method, operation in operations(client):
        if not path.startswith("/api/v1"):
            continue
        statuses = set(operation["responses"])
        # A signed trigger URL needs no user token: a token that does not verify is 404.
        if not path.startswith(SIGNED_URL_ROUTES):
            assert "401" in statuses, f"{method.upper()} {path} does not document 401"
        if "{" in path:
            assert "404" in statuses, f"{method.upper()} {path} does not document 404"
        if method in {"post", "patch", "put"}:
            assert "422" in statuses, f"{method.upper()} {path} does not document 422"
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                media = response.get("content", {})
                assert "application/problem+json" in media, f"{method.upper()} {path} {status}"


def test_every_success_answer_has_a_schema(client: TestClient) -> None:
    for path, method, operation in operations(client):
        for status, response in operation["responses"].items():
            if status.startswith("2") and status != "204":
                content = response.get("content", {})
                assert content, f"{method.upper()} {path} {status} has no response schema"
                schema = next(iter(content.values())).get("schema")
                assert schema, f"{method.upper()} {path} {status} has no response schema"


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/docs", "/openapi.json"])
def test_public_routes_need_no_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    return dict(client.get("/openapi.json").json())


def all_operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def resolved(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return dict(document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def test_the_document_is_valid_openapi(document: dict[str, Any]) -> None:
    errors = [str(error) for error in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_operation_ids_are_unique_and_camel_case(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in all_operations(document)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert [i for i in ids if not re.fullmatch(r"[a-z][a-zA-Z0-9]*", i)] == []
    assert {"listCampaigns", "createCampaign", "getCampaign", "addContacts"} <= set(ids)


def test_every_operation_has_a_description(document: dict[str, Any]) -> None:
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in all_operations(document)
        if not operation.get("description", "").strip()
    ]
    assert missing == [], "give the route function a docstring"


def test_every_tag_is_described(document: dict[str, Any]) -> None:
    described = {tag["name"] for tag in document["tags"] if tag.get("description")}
    used = {tag for _, _, operation in all_operations(document) for tag in operation["tags"]}
    assert used - described == set(), "describe the tag in outreach.main.TAGS"


def test_every_model_has_one_name(document: dict[str, Any]) -> None:
    """Two models of one name get module-path names, which generators refuse."""
    assert [name for name in document["components"]["schemas"] if "__" in name] == []


def test_every_problem_response_lists_its_codes(document: dict[str, Any]) -> None:
    for path, method, operation in all_operations(document):
        if not path.startswith("/api/v1"):  # tracking pages and probes answer text and HTML
            continue
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], f"{method} {path} {status}"
            schema = resolved(document, response["content"][PROBLEM_MEDIA_TYPE]["schema"])
            codes = schema["properties"]["code"].get("enum")
            assert codes, f"{method.upper()} {path} {status} lists no codes"
            assert "X-Request-ID" in response["headers"]


def codes_of(document: dict[str, Any], path: str, method: str, status: int) -> set[str]:
    response = document["paths"][path][method]["responses"][str(status)]
    schema = resolved(document, response["content"][PROBLEM_MEDIA_TYPE]["schema"])
    return set(schema["properties"]["code"]["enum"])


def test_declared_and_conventional_codes_reach_the_document(document: dict[str, Any]) -> None:
    activate = "/api/v1/campaigns/{campaign_id}/activate"
    assert {"CAMPAIGN_NO_CONTACTS", "INVALID_STATUS_TRANSITION"} <= codes_of(
        document, activate, "post", 409
    )
    create = "/api/v1/campaigns"
    assert "IDEMPOTENCY_KEY_REUSED" in codes_of(document, create, "post", 422)
    assert "IDEMPOTENCY_KEY_IN_PROGRESS" in codes_of(document, create, "post", 409)
    assert "CURSOR_INVALID" in codes_of(document, create, "get", 422)
    assert codes_of(document, create, "get", 401) == {"UNAUTHORIZED"}
    assert codes_of(document, create, "get", 503) == {"DATABASE_UNAVAILABLE"}


def test_headers_are_documented(document: dict[str, Any]) -> None:
    for path, method, operation in all_operations(document):
        parameters = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        for status, response in operation["responses"].items():
            headers = set(response.get("headers", {}))
            if status.startswith("2") and "Idempotency-Key" in parameters:
                assert "Idempotent-Replayed" in headers, f"{method} {path} {status}"
            if status == "429":
                assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining"} <= headers
                assert "RateLimit-Reset" in headers
            if status == "503":
                assert "Retry-After" in headers
    posts = [op for _, method, op in all_operations(document) if method == "post"]
    assert sum(1 for op in posts if "Idempotency-Key" in str(op.get("parameters"))) >= 5
    assert "429" in document["paths"]["/api/v1/senders/{sender_id}/test"]["post"]["responses"]


def test_auth_and_servers_are_described(document: dict[str, Any]) -> None:
    (scheme,) = document["components"]["securitySchemes"].values()
    assert scheme == scheme | {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert document["servers"][0]["url"]


def test_the_generic_inbound_body_is_a_schema(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/v1/inbound/{provider}"]["post"]["requestBody"]
    schema = resolved(document, body["content"]["application/json"]["schema"])
    assert schema["required"] == ["events"]
    event = resolved(document, schema["properties"]["events"]["items"])
    assert set(event["properties"]["type"]["enum"]) >= {"delivered", "bounced", "replied"}


EXAMPLES = {
    "CampaignCreate": CampaignCreate,
    "BulkAddIn": BulkAddIn,
    "TemplateIn": TemplateIn,
    "SenderIn": SenderIn,
    "GenericPayload": GenericPayload,
}


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_are_valid(document: dict[str, Any], name: str) -> None:
    examples = document["components"]["schemas"][name]["examples"]
    assert examples
    for example in examples:
        EXAMPLES[name].model_validate(example)
    if name == "BulkAddIn":
        for row in examples[0]["contacts"]:
            ContactIn.model_validate(row)


def test_the_problem_codes_answered_are_documented(
    client: TestClient, org: Org, document: dict[str, Any]
) -> None:
    """What routes answer, read from the document: a generated client parses `code` as an
    enum, so an undocumented code would fail in the client."""
    campaign = create_campaign(client, org)
    answers = [
        (
            "/api/v1/campaigns/{campaign_id}/activate",
            "post",
            act(client, org, campaign["id"], "activate"),
        ),
        (
            "/api/v1/campaigns/{campaign_id}",
            "get",
            client.get(f"/api/v1/campaigns/{uuid.uuid4()}", headers=org.headers()),
        ),
        (
            "/api/v1/campaigns",
            "post",
            client.post("/api/v1/campaigns", json={"name": ""}, headers=org.headers()),
        ),
        (
            "/api/v1/campaigns",
            "get",
            client.get("/api/v1/campaigns?cursor=nope", headers=org.headers()),
        ),
        ("/api/v1/campaigns", "get", client.get("/api/v1/campaigns")),
        (
            "/api/v1/campaigns",
            "post",
            client.post("/api/v1/campaigns", json={"name": "x"}, headers=org.headers(Role.VIEWER)),
        ),
    ]
    for path, method, answer in answers:
        assert answer.status_code >= 400, answer.text
        code = answer.json()["code"]
        assert code in codes_of(document, path, method, answer.status_code), (path, code)


@pytest.mark.parametrize("name", json.loads(RESPONSE_EXAMPLES.read_text()))
def test_response_examples_fit_their_schema(document: dict[str, Any], name: str) -> None:
    """The answers scripts/openapi-examples saved still fit the document: valid against the
    schema, every field of it shown (a field added to a model asks for the script again)."""
    schema = document["components"]["schemas"][name]
    [example] = schema["examples"]
    # the whole document as the root schema, so that its "#/components/..." references resolve
    validator = Draft202012Validator({**document, "$ref": f"#/components/schemas/{name}"})
    assert list(validator.iter_errors(example)) == []
    assert set(example) == set(schema["properties"]), "run scripts/openapi-examples"
