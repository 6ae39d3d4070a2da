"""Template validation: channel shapes, personalization tokens and LinkedIn's limits."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org, create_template

CONNECTION_REQUEST = {
    "name": "Connect",
    "channel": "linkedin",
    "linkedin_kind": "connection_request",
    "subject": None,
    "body_text": "Hi {{first_name}}, let's connect.",
}


def refusal(client: TestClient, org: Org, **body: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/templates", json=body, headers=org.headers())
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    return dict(answer.json())


def test_email_template_is_created_with_its_author(client: TestClient, org: Org) -> None:
    template = create_template(client, org, body_html="<p>Hi {{first_name}}</p>")
    assert template["channel"] == "email"
    assert template["subject"] == "Hello {{first_name}}"
    assert template["body_html"] == "<p>Hi {{first_name}}</p>"
    assert template["linkedin_kind"] is None
    assert template["created_by"] == str(org.user())


def test_template_name_is_trimmed(client: TestClient, org: Org) -> None:
    assert create_template(client, org, name="  Follow-up  ")["name"] == "Follow-up"


@pytest.mark.parametrize("name", ["", "   "])
def test_template_name_is_required(client: TestClient, org: Org, name: str) -> None:
    problem = refusal(client, org, name=name, channel="sms", body_text="Hi {{first_name}}")
    assert problem["code"] == "TEMPLATE_NAME_REQUIRED"
    assert problem["errors"][0]["field"] == "name"


def test_template_name_over_200_characters_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, name="x" * 201, channel="sms", body_text="Hi {{first_name}}")
    assert problem["code"] == "TEMPLATE_NAME_TOO_LONG"


def test_unknown_body_field_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, **CONNECTION_REQUEST, org_id=str(org.id))
    assert problem["code"] == "FIELD_UNKNOWN"


def test_unknown_channel_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, name="Call", channel="voice", body_text="Hi {{first_name}}")
    assert problem["code"] == "VALUE_NOT_ALLOWED"


def test_email_template_without_subject_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, name="Mail", channel="email", subject=" ", body_text="Hi")
    assert problem["code"] == "TEMPLATE_SUBJECT_REQUIRED"
    assert problem["errors"][0]["field"] == "subject"


def test_email_template_without_any_body_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, name="Mail", channel="email", subject="Hello")
    assert problem["code"] == "TEMPLATE_BODY_REQUIRED"


def test_email_template_may_have_an_html_body_only(client: TestClient, org: Org) -> None:
    template = create_template(client, org, body_text=None, body_html="<p>Hi</p>")
    assert template["body_text"] is None


@pytest.mark.parametrize("channel", ["sms", "linkedin"])
def test_sms_and_linkedin_templates_need_body_text(
    client: TestClient, org: Org, channel: str
) -> None:
    kind = {"linkedin_kind": "inmail"} if channel == "linkedin" else {}
    problem = refusal(client, org, name="Text", channel=channel, **kind)
    assert problem["code"] == "TEMPLATE_BODY_REQUIRED"


def test_linkedin_template_without_kind_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, **{**CONNECTION_REQUEST, "linkedin_kind": None})
    assert problem["code"] == "TEMPLATE_LINKEDIN_KIND_REQUIRED"


def test_linkedin_kind_on_another_channel_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, **{**CONNECTION_REQUEST, "channel": "sms"})
    assert problem["code"] == "TEMPLATE_LINKEDIN_KIND_NOT_ALLOWED"


def test_html_body_outside_email_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(
        client, org, name="Text", channel="sms", body_text="Hi {{first_name}}", body_html="<p/>"
    )
    assert problem["code"] == "TEMPLATE_FIELD_NOT_ALLOWED"
    assert problem["errors"][0]["field"] == "body_html"


def test_subject_on_a_connection_request_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, **{**CONNECTION_REQUEST, "subject": "Hello"})
    assert problem["code"] == "TEMPLATE_FIELD_NOT_ALLOWED"
    assert problem["errors"][0]["field"] == "subject"


def test_inmail_may_have_a_subject(client: TestClient, org: Org) -> None:
    template = create_template(
        client, org, **{**CONNECTION_REQUEST, "linkedin_kind": "inmail", "subject": "Hello"}
    )
    assert template["subject"] == "Hello"


def test_unknown_token_is_refused_and_named(client: TestClient, org: Org) -> None:
    problem = refusal(
        client, org, **{**CONNECTION_REQUEST, "body_text": "Hi {{ nickname }} at {{firm}}"}
    )
    assert problem["code"] == "TEMPLATE_UNKNOWN_TOKEN"
    assert "firm, nickname" in problem["title"]


def test_attribute_of_a_known_token_is_an_unknown_token(client: TestClient, org: Org) -> None:
    problem = refusal(
        client, org, **{**CONNECTION_REQUEST, "body_text": "Hi {{ first_name.__class__ }}"}
    )
    assert problem["code"] == "TEMPLATE_UNKNOWN_TOKEN"
    assert "first_name.__class__" in problem["title"]


def test_every_known_token_and_custom_fields_are_accepted(client: TestClient, org: Org) -> None:
    body = (
        "{{first_name}} {{last_name}} {{full_name}} {{email}} {{company_name}} {{title}} "
        "{{linkedin_url}} {{phone}} {{sender_name}} {{campaign_name}} {{custom.team}} "
        "{{ custom['start date'] }} {{ first_name | default('there') | upper }}"
    )
    template = create_template(client, org, body_text=body)
    assert template["body_text"] == body


def test_invalid_template_syntax_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, **{**CONNECTION_REQUEST, "body_text": "Hi {{ first_name"})
    assert problem["code"] == "TEMPLATE_SYNTAX_INVALID"
    assert problem["errors"][0]["field"] == "body_text"


def test_unknown_filter_is_invalid_syntax(client: TestClient, org: Org) -> None:
    problem = refusal(
        client, org, **{**CONNECTION_REQUEST, "body_text": "Hi {{ first_name | shout }}"}
    )
    assert problem["code"] == "TEMPLATE_SYNTAX_INVALID"


def test_connection_request_of_300_characters_is_accepted(client: TestClient, org: Org) -> None:
    body = "Hi {{first_name}}" + "." * 283
    assert len(body) == 300
    create_template(client, org, **{**CONNECTION_REQUEST, "body_text": body})


def test_connection_request_over_300_characters_is_refused(client: TestClient, org: Org) -> None:
    body = "Hi {{first_name}}" + "." * 284
    problem = refusal(client, org, **{**CONNECTION_REQUEST, "body_text": body})
    assert problem["code"] == "TEMPLATE_CONNECTION_REQUEST_TOO_LONG"


def test_inmail_over_1900_characters_is_refused(client: TestClient, org: Org) -> None:
    inmail = {**CONNECTION_REQUEST, "linkedin_kind": "inmail"}
    create_template(client, org, **{**inmail, "body_text": "Hi {{first_name}}" + "." * 1883})
    problem = refusal(client, org, **{**inmail, "body_text": "Hi {{first_name}}" + "." * 1884})
    assert problem["code"] == "TEMPLATE_INMAIL_TOO_LONG"


def test_linkedin_template_without_a_token_is_refused(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, **{**CONNECTION_REQUEST, "body_text": "Hi there!"})
    assert problem["code"] == "TEMPLATE_PERSONALIZATION_REQUIRED"


def test_sms_template_needs_no_token(client: TestClient, org: Org) -> None:
    create_template(client, org, channel="sms", subject=None, body_text="Call us back")


def test_several_broken_rules_are_reported_together(client: TestClient, org: Org) -> None:
    problem = refusal(client, org, name="Mail", channel="email", body_text="{{ who }}")
    assert problem["code"] == "VALIDATION_ERROR"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("subject", "TEMPLATE_SUBJECT_REQUIRED"),
        ("body_text", "TEMPLATE_UNKNOWN_TOKEN"),
    }


@pytest.mark.parametrize(
    "subject",
    ["Hello\r\nBcc: x@evil.example", "Hello\n", "Hello\tthere", "Hi\u2028there", "Hi\u0085"],
)
def test_a_subject_with_control_characters_is_refused(
    client: TestClient, org: Org, subject: str
) -> None:
    problem = refusal(
        client, org, name="First touch", channel="email", subject=subject, body_text="Hi"
    )
    assert problem["code"] == "TEXT_CONTROL_CHARACTERS"
    assert problem["errors"][0]["field"] == "subject"


def test_a_subject_cannot_be_patched_to_several_lines(client: TestClient, org: Org) -> None:
    template = create_template(client, org)
    answer = client.patch(
        f"/api/v1/templates/{template['id']}",
        json={"subject": "Hi {{first_name}}\r\nBcc: x@evil.example"},
        headers=org.headers(),
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "TEXT_CONTROL_CHARACTERS")


def test_bodies_keep_their_line_breaks_and_tabs(client: TestClient, org: Org) -> None:
    body_text = "Hi {{first_name}},\r\n\r\n\tA role for you.\nSam"
    template = create_template(client, org, body_text=body_text, body_html="<p>Hi</p>\n\t<p>x</p>")
    assert (template["body_text"], template["body_html"]) == (body_text, "<p>Hi</p>\n\t<p>x</p>")
