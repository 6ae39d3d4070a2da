"""System senders are set up by the service, not through the API: tests insert them directly."""

import psycopg
from fastapi.testclient import TestClient

from tests.factories import Org


def add_system_sender(
    client: TestClient,
    as_owner: psycopg.Connection,
    org: Org,
    from_email: str = "outreach@localhost",
) -> str:
    client.get("/api/v1/senders", headers=org.headers())  # the organization exists from then on
    row = as_owner.execute(
        "INSERT INTO senders (org_id, from_email, transport) VALUES (%s, %s, 'system') "
        "RETURNING id",
        (org.id, from_email),
    ).fetchone()
    assert row is not None
    return str(row[0])
