from fastapi.testclient import TestClient

from outreach.db import DatabaseUrls
from outreach.schema import head_revision


def test_healthz_answers_ok(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_database_at_head(client: TestClient, database_urls: DatabaseUrls) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["migration"] == head_revision(database_urls)


def test_the_root_leads_to_the_docs(client: TestClient) -> None:
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["location"] == "/docs"
    assert client.get("/").url.path == "/docs"


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
