"""The public tracking routes, end to end: a token minted for a real contact shows in the
contact, the events, the metrics and the analytics; a bad token records nothing."""

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from outreach.tracking.router import PIXEL
from outreach.tracking.tokens import TokenKind, TrackingSigner, TrackingToken
from tests.factories import Org, add_contacts, create_campaign, eventually

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
JOBS = "https://jobs.example.com/java?ref=mail"
AN_HOUR_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def member(client: TestClient, org: Org) -> dict[str, Any]:
    campaign = create_campaign(client, org)
    added = add_contacts(client, org, campaign["id"], 1)
    return {"campaign_id": campaign["id"], "id": added["results"][0]["campaign_contact_id"]}


def token(
    client: TestClient, org: Org, member: dict[str, Any], kind: TokenKind, **fields: Any
) -> str:
    signer: TrackingSigner = client.app.state.tracking_signer  # type: ignore[attr-defined]
    minted = TrackingToken(
        kind=kind,
        org_id=org.id,
        campaign_id=uuid.UUID(member["campaign_id"]),
        campaign_contact_id=uuid.UUID(member["id"]),
        **{"issued_at": AN_HOUR_AGO, **fields},
    )
    return signer.sign(minted)


def events(as_owner: psycopg.Connection, member: dict[str, Any]) -> list[tuple[Any, ...]]:
    return as_owner.execute(
        "SELECT event_type, is_machine, clicked_url FROM engagement_events "
        "WHERE campaign_contact_id = %s ORDER BY event_timestamp",
        (member["id"],),
    ).fetchall()


def campaign(client: TestClient, org: Org, member: dict[str, Any]) -> dict[str, Any]:
    return dict(
        client.get(f"/api/v1/campaigns/{member['campaign_id']}", headers=org.headers()).json()
    )


def test_the_pixel_records_an_open_everywhere_it_should_show(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    answer = client.get(
        f"/t/o/{token(client, org, member, TokenKind.OPEN)}.gif", headers={"User-Agent": CHROME}
    )
    assert answer.status_code == 200
    assert answer.content == PIXEL
    assert len(answer.content) == 43
    assert answer.headers["content-type"] == "image/gif"
    assert "no-store" in answer.headers["cache-control"]
    assert eventually(lambda: events(as_owner, member) == [("opened", False, None)])
    metrics = campaign(client, org, member)
    assert (metrics["opens_unique"], metrics["opens_total"]) == (1, 1)
    contact = client.get(
        f"/api/v1/campaigns/{member['campaign_id']}/contacts/{member['id']}",
        headers=org.headers(),
    ).json()
    assert (contact["status"], contact["opened_at"] is not None) == ("opened", True)
    log = client.get(
        f"/api/v1/campaigns/{member['campaign_id']}/events", headers=org.headers()
    ).json()
    assert [e["event_type"] for e in log["items"]] == ["opened"]


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-1],  # truncated
        lambda t: t[:10] + ("A" if t[10] != "A" else "B") + t[11:],  # one character changed
        lambda t: "nonsense",
        lambda t: t + "AAAA",  # extended
    ],
)
def test_a_bad_token_gets_the_same_pixel_and_records_nothing(
    client: TestClient,
    org: Org,
    member: dict[str, Any],
    as_owner: psycopg.Connection,
    spoil: Callable[[str], str],
) -> None:
    bad = spoil(token(client, org, member, TokenKind.OPEN))
    answer = client.get(f"/t/o/{bad}.gif")
    assert (answer.status_code, answer.content) == (200, PIXEL)
    time.sleep(0.1)
    assert events(as_owner, member) == []


def test_a_resigned_token_for_a_real_contact_records_nothing(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    forger = TrackingSigner(["a-secret-the-service-does-not-know-at-all"])
    forged = forger.sign(
        TrackingToken(
            TokenKind.OPEN, org.id, uuid.UUID(member["campaign_id"]), uuid.UUID(member["id"])
        )
    )
    assert client.get(f"/t/o/{forged}.gif").content == PIXEL
    assert client.get(f"/t/c/{forged}", follow_redirects=False).status_code == 404
    time.sleep(0.1)
    assert events(as_owner, member) == []


def test_a_click_redirects_to_its_link_and_counts_as_an_open(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    click = token(client, org, member, TokenKind.CLICK, url=JOBS)
    answer = client.get(f"/t/c/{click}", headers={"User-Agent": CHROME}, follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == JOBS
    assert eventually(lambda: events(as_owner, member) == [("clicked", False, JOBS)])
    metrics = campaign(client, org, member)
    assert (metrics["clicks_unique"], metrics["opens_unique"]) == (1, 1)
    links = client.get(
        f"/api/v1/campaigns/{member['campaign_id']}/links", headers=org.headers()
    ).json()
    assert links["items"][0]["url"] == JOBS


def test_a_bad_click_token_redirects_nowhere(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    opener = token(client, org, member, TokenKind.OPEN)
    for bad in (opener, "nonsense", token(client, org, member, TokenKind.CLICK, url=JOBS)[:-2]):
        answer = client.get(f"/t/c/{bad}", follow_redirects=False)
        assert answer.status_code == 404
        assert "location" not in answer.headers


def test_scanner_clicks_are_recorded_apart(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    just_sent = token(client, org, member, TokenKind.CLICK, url=JOBS, issued_at=datetime.now(UTC))
    client.get(f"/t/c/{just_sent}", headers={"User-Agent": CHROME}, follow_redirects=False)
    later = token(client, org, member, TokenKind.CLICK, url=JOBS)
    client.head(f"/t/c/{later}", headers={"User-Agent": CHROME}, follow_redirects=False)
    assert eventually(lambda: len(events(as_owner, member)) == 2)
    assert {machine for _, machine, _ in events(as_owner, member)} == {True}
    metrics = campaign(client, org, member)
    assert (metrics["clicks_unique"], metrics["machine_clicks"]) == (0, 2)


def test_a_get_of_the_unsubscribe_link_only_asks(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    page = client.get(link)
    assert page.status_code == 200
    assert f'action="{link}"' in page.text
    assert events(as_owner, member) == []


def test_one_click_unsubscribe_suppresses_and_is_harmless_to_repeat(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    for _ in range(2):
        answer = client.post(link, data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 200
    assert campaign(client, org, member)["unsubscribes"] == 1
    suppressed = as_owner.execute(
        "SELECT reason FROM suppressions WHERE org_id = %s", (org.id,)
    ).fetchall()
    assert suppressed == [("unsubscribed",)]


def test_an_unsubscribe_needs_an_unsubscribe_token(
    client: TestClient, org: Org, member: dict[str, Any]
) -> None:
    opener = token(client, org, member, TokenKind.OPEN)
    assert client.post(f"/t/u/{opener}").status_code == 404
    assert client.get(f"/t/u/{opener}").status_code == 404


def test_repeated_one_click_unsubscribes_record_one_event(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    again = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE, issued_at=datetime.now(UTC))}"
    for path in (link, link, again, link):
        assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert [kind for kind, _, _ in events(as_owner, member)] == ["unsubscribed"]


def suppressions(as_owner: psycopg.Connection, org: Org) -> list[tuple[Any, ...]]:
    return as_owner.execute(
        "SELECT email, reason, event_id IS NOT NULL FROM suppressions WHERE org_id = %s",
        (org.id,),
    ).fetchall()


def test_the_unsubscribe_page_names_the_organization_and_the_address(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    client.get("/api/v1/campaigns", headers=org.headers())  # the organization exists
    as_owner.execute(
        "UPDATE organizations SET name = 'Acme <Talent> & Co' WHERE id = %s", (org.id,)
    )
    for page in (client.get(link), client.post(link, data={"List-Unsubscribe": "One-Click"})):
        assert page.status_code == 200
        assert "<strong>Acme &lt;Talent&gt; &amp; Co</strong>" in page.text
        assert "<strong>person0@example.com</strong>" in page.text
        assert "<Talent>" not in page.text


def test_an_unsubscribe_is_undone_with_its_own_link_and_can_be_made_again(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    done = client.post(link, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    assert f'action="{link}/resubscribe"' in done.text
    assert suppressions(as_owner, org) == [("person0@example.com", "unsubscribed", True)]
    assert 'action="' + link + '/resubscribe"' in client.get(link).text  # a used link offers it

    for _ in range(2):  # repeating the undo is harmless
        undone = client.post(f"{link}/resubscribe")
        assert undone.status_code == 200
        assert "may write to <strong>person0@example.com</strong> again" in undone.text
        assert f'action="{link}"' in undone.text  # and offers to unsubscribe again
    assert suppressions(as_owner, org) == []
    assert [kind for kind, _, _ in events(as_owner, member)] == ["unsubscribed", "resubscribed"]
    # the unsubscribe stays in the campaign's figures and stopped its sequence
    assert campaign(client, org, member)["unsubscribes"] == 1
    assert f'action="{link}/resubscribe"' not in client.get(link).text  # it asks again

    for _ in range(2):  # RFC 8058 one-click again, retried by the mail client
        assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert suppressions(as_owner, org) == [("person0@example.com", "unsubscribed", True)]
    assert [kind for kind, _, _ in events(as_owner, member)] == [
        "unsubscribed",
        "resubscribed",
        "unsubscribed",
    ]


def test_an_undo_leaves_a_suppression_its_link_did_not_make(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    added = client.post(
        "/api/v1/suppressions",
        json={"email": "person0@example.com", "reason": "manual"},
        headers=org.headers(),
    )
    assert added.status_code == 201, added.text
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    undone = client.post(f"{link}/resubscribe")
    assert undone.status_code == 200
    assert "stays on" in undone.text
    assert "do-not-contact list" in undone.text
    assert suppressions(as_owner, org) == [("person0@example.com", "manual", False)]
    assert [kind for kind, _, _ in events(as_owner, member)] == ["unsubscribed", "resubscribed"]


def test_an_undo_without_an_unsubscribe_records_nothing(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    assert client.post(f"{link}/resubscribe").status_code == 200
    assert events(as_owner, member) == []


def test_an_undo_needs_a_verified_unsubscribe_token(
    client: TestClient, org: Org, member: dict[str, Any], as_owner: psycopg.Connection
) -> None:
    link = f"/t/u/{token(client, org, member, TokenKind.UNSUBSCRIBE)}"
    assert client.post(link, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    opener = token(client, org, member, TokenKind.OPEN)
    assert client.post(f"/t/u/{opener}/resubscribe").status_code == 404
    assert client.post(f"{link[:-4]}AAAA/resubscribe").status_code == 404
    assert len(suppressions(as_owner, org)) == 1


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("HEAD", "/t/o/abc.gif", 405),
        ("POST", "/t/o/abc.gif", 405),
        ("GET", "/t/o/.gif", 404),
        ("GET", "/t/o/a/b.gif", 404),
        ("GET", "/t/o/abc.png", 404),
        ("GET", "/t/c/", 404),
        ("POST", "/t/c/abc", 405),
    ],
)
def test_other_requests_on_the_tracking_paths_get_the_apis_problem(
    client: TestClient, method: str, path: str, status: int
) -> None:
    answer = client.request(method, path, headers={"X-Request-ID": "trace-1"})
    assert answer.status_code == status
    assert answer.headers["x-request-id"] == "trace-1"
    if method != "HEAD":
        assert answer.headers["content-type"] == "application/problem+json"


def test_the_tracking_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/t/o/{token}.gif"]) == {"get"}
    assert set(paths["/t/c/{token}"]) == {"get"}
    assert set(paths["/t/u/{token}"]) == {"get", "post"}
    assert "503" in paths["/t/u/{token}"]["post"]["responses"]
