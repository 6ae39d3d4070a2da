"""The OpenAPI document: every route is described well enough to code against."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

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
