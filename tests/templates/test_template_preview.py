"""Template previews: sample data, or an organization contact with its custom fields."""

import uuid
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from outreach.kit.tenancy import set_org
from tests.factories import Org, create_template


def preview(
    client: TestClient, org: Org, template_id: str, role: Role = Role.ADMIN, **body: Any
) -> Any:
    return client.post(
        f"/api/v1/templates/{template_id}/preview", json=body, headers=org.headers(role)
    )


def insert_contact(conn: psycopg.Connection, org: Org, **fields: Any) -> str:
    columns = {"org_id": org.id, "email": "ada@example.com", **fields}
    with conn.transaction():
        set_org(conn, org.id)
        row = conn.execute(
            f"INSERT INTO contacts ({', '.join(columns)}) "
            f"VALUES ({', '.join(['%s'] * len(columns))}) RETURNING id",
            list(columns.values()),
        ).fetchone()
    assert row is not None
    return str(row[0])


def test_preview_renders_sample_data(client: TestClient, org: Org) -> None:
    template = create_template(
        client, org, body_text="Hi {{first_name}} from {{company_name}}, {{custom.team}} team"
    )
    answer = preview(client, org, template["id"], Role.VIEWER)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "subject": "Hello Alex",
        "body_text": "Hi Alex from Acme Corp, [team] team",
        "body_html": None,
        "missing_values": [],
    }


def test_preview_renders_a_contacts_tokens_and_custom_fields(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    template = create_template(
        client,
        org,
        subject="{{full_name}}, a role at {{custom.client}}",
        body_text="Hi {{ first_name }}, {{ custom['years'] }} years of {{custom.skill}}?",
    )
    contact_id = insert_contact(
        as_owner,
        org,
        first_name="Ada",
        last_name="Lovelace",
        custom_fields=psycopg.types.json.Jsonb({"client": "Initech", "years": 7}),
    )
    answer = preview(client, org, template["id"], contact_id=contact_id)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "subject": "Ada Lovelace, a role at Initech",
        "body_text": "Hi Ada, 7 years of ?",
        "body_html": None,
        "missing_values": ["custom.skill"],
    }


def test_preview_escapes_contact_values_in_html_only(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    template = create_template(
        client, org, body_text="Hi {{first_name}}", body_html="<p>Hi {{first_name}}</p>"
    )
    contact_id = insert_contact(as_owner, org, first_name="<b>Bo</b>")
    rendered = preview(client, org, template["id"], contact_id=contact_id).json()
    assert rendered["body_text"] == "Hi <b>Bo</b>"
    assert rendered["body_html"] == "<p>Hi &lt;b&gt;Bo&lt;/b&gt;</p>"


def test_preview_with_an_unknown_contact_is_not_found(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = preview(client, org, template["id"], contact_id=str(uuid.uuid4()))
    assert answer.status_code == 404
    assert answer.json()["title"] == "Contact not found"


def test_preview_with_another_orgs_contact_is_not_found(
    client: TestClient, org: Org, other_org: Org, as_owner: psycopg.Connection
) -> None:
    template = create_template(client, org)
    create_template(client, other_org)  # the other organization exists
    contact_id = insert_contact(as_owner, other_org)
    assert preview(client, org, template["id"], contact_id=contact_id).status_code == 404


def test_preview_without_a_body_uses_sample_data(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = client.post(f"/api/v1/templates/{template['id']}/preview", headers=org.headers())
    assert answer.status_code == 200
    assert answer.json()["subject"] == "Hello Alex"
