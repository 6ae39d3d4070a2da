"""GET /campaigns/{id}/ab-test: per-variant figures from the contacts, and the verdict."""

from typing import Any

import psycopg
from fastapi.testclient import TestClient

from outreach.auth.tokens import Role
from tests.factories import Org, add_contacts, create_ab_campaign, create_campaign


def ab_test(client: TestClient, org: Org, campaign_id: str, role: Role = Role.ADMIN) -> Any:
    return client.get(f"/api/v1/campaigns/{campaign_id}/ab-test", headers=org.headers(role))


def record_outcomes(
    as_owner: psycopg.Connection,
    campaign_id: str,
    variant: str,
    responded: int,
    converted: int,
    converted_without_response: int = 0,
) -> None:
    """Mark the first `responded` contacts of the variant as responded, the first `converted`
    of those as converted too, and the next ones as converted without a response."""
    as_owner.execute(
        """
        WITH ranked AS (
            SELECT id, row_number() OVER (ORDER BY id) AS n
            FROM campaign_contacts WHERE campaign_id = %(campaign)s AND ab_variant = %(variant)s
        )
        UPDATE campaign_contacts AS cc
        SET responded_at = CASE WHEN ranked.n <= %(responded)s THEN now() END,
            converted_at = CASE WHEN ranked.n <= %(converted)s
                                  OR ranked.n > %(responded)s
                                 AND ranked.n <= %(responded)s + %(without)s
                                THEN now() END
        FROM ranked WHERE cc.id = ranked.id
        """,
        {
            "campaign": campaign_id,
            "variant": variant,
            "responded": responded,
            "converted": converted,
            "without": converted_without_response,
        },
    )


def test_the_figures_and_the_winner_come_from_the_contacts(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_ab_campaign(client, org)
    add_contacts(client, org, campaign["id"], 240)
    record_outcomes(as_owner, campaign["id"], "A", responded=30, converted=18)
    record_outcomes(as_owner, campaign["id"], "B", responded=40, converted=6)

    answer = ab_test(client, org, campaign["id"], Role.VIEWER)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["variants"] == {
        "A": {
            "contacts": 120,
            "responses": 30,
            "conversions": 18,
            "response_rate": 25.0,
            "conversion_rate": 60.0,
            "overall_rate": 15.0,
        },
        "B": {
            "contacts": 120,
            "responses": 40,
            "conversions": 6,
            "response_rate": 33.33,
            "conversion_rate": 15.0,
            "overall_rate": 5.0,
        },
    }
    by_conversion = body["comparisons"]["by_conversion_rate"]
    assert by_conversion["leader"] == "A"
    assert by_conversion["difference"] == 45.0
    assert by_conversion["p_value"] < 0.001
    assert by_conversion["significant"] is True
    assert body["comparisons"]["by_response_rate"]["leader"] == "B"
    assert body["comparisons"]["by_response_rate"]["winner"] is None  # p = 0.16
    assert body["comparisons"]["by_overall"]["winner"] == "A"
    assert body["minimums_met"] is True
    assert (body["winner"], body["reason"]) == ("A", None)
    assert body["summary"].splitlines()[0] == (
        "Variant A: 25.00% response rate, 60.00% conversion rate ✓ WINNER"
    )


def test_a_conversion_without_a_response_counts_only_in_the_overall_rate(
    client: TestClient, org: Org, as_owner: psycopg.Connection
) -> None:
    campaign = create_ab_campaign(client, org)
    add_contacts(client, org, campaign["id"], 20)
    record_outcomes(as_owner, campaign["id"], "A", 4, 2, converted_without_response=2)

    variant = ab_test(client, org, campaign["id"]).json()["variants"]["A"]

    assert (variant["responses"], variant["conversions"]) == (4, 4)
    assert (variant["conversion_rate"], variant["overall_rate"]) == (50.0, 40.0)


def test_a_new_ab_test_has_no_winner_yet(client: TestClient, org: Org) -> None:
    campaign = create_ab_campaign(client, org)
    add_contacts(client, org, campaign["id"], 10)

    body = ab_test(client, org, campaign["id"]).json()

    assert body["variants"]["A"]["contacts"] + body["variants"]["B"]["contacts"] == 10
    assert (body["winner"], body["reason"]) == (None, "not_enough_contacts")
    assert body["summary"].startswith("No winner yet: variant A has 5 contacts")


def test_a_campaign_that_is_not_an_ab_test_is_refused(client: TestClient, org: Org) -> None:
    campaign = create_campaign(client, org)

    answer = ab_test(client, org, campaign["id"])

    assert answer.status_code == 409
    assert answer.json()["code"] == "CAMPAIGN_NOT_AB_TEST"


def test_another_orgs_campaign_is_not_found(client: TestClient, org: Org, other_org: Org) -> None:
    campaign = create_ab_campaign(client, other_org)

    answer = ab_test(client, org, campaign["id"])

    assert answer.status_code == 404
    assert answer.json()["code"] == "NOT_FOUND"


def test_without_a_token_is_unauthorized(client: TestClient, org: Org) -> None:
    campaign = create_ab_campaign(client, org)

    answer = client.get(f"/api/v1/campaigns/{campaign['id']}/ab-test")

    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED"
