"""A Python client generated from the OpenAPI document (openapi-python-client) works against
`outreach serve` over HTTP: create a campaign, add contacts, page through them."""

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from outreach.db import DatabaseUrls
from tests.factories import Org
from tests.served import Served, environment, serve

GENERATOR = str(Path(sys.executable).parent / "openapi-python-client")
PACKAGE = "outreach_client"
# The open pixel answers image/gif, which the generator reads as bytes once told so.
CONFIG = f"""
package_name_override: {PACKAGE}
post_hooks: []
content_type_overrides:
  image/gif: application/octet-stream
"""


@pytest.fixture(scope="module")
def served(
    database_urls: DatabaseUrls, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("generated-client")
    with serve(environment(database_urls, folder / "data"), folder) as running:
        yield running


@pytest.fixture(scope="module")
def generated(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The client generated from the document the running service serves; a warning of the
    generator (a part of the document it could not turn into code) fails the test."""
    folder = tmp_path_factory.mktemp("client")
    (folder / "config.yaml").write_text(CONFIG)
    answer = subprocess.run(  # noqa: S603 - the generator installed with the dev dependencies
        [
            GENERATOR,
            "generate",
            "--url",
            f"{served.url}/openapi.json",
            "--meta",
            "none",
            "--output-path",
            str(folder / PACKAGE),
            "--config",
            str(folder / "config.yaml"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert answer.returncode == 0, answer.stdout + answer.stderr
    sys.path.insert(0, str(folder))
    try:
        yield folder
    finally:
        sys.path.remove(str(folder))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def client_module(name: str) -> ModuleType:
    return importlib.import_module(f"{PACKAGE}.{name}")


def test_a_generated_client_creates_a_campaign_adds_contacts_and_pages(
    generated: Path, served: Served, org: Org
) -> None:
    models = client_module("models")
    create_campaign = client_module("api.campaigns.create_campaign")
    get_campaign = client_module("api.campaigns.get_campaign")
    list_campaigns = client_module("api.campaigns.list_campaigns")
    add_contacts = client_module("api.contacts.add_contacts")
    list_contacts = client_module("api.contacts.list_contacts")
    token = org.headers()["Authorization"].removeprefix("Bearer ")
    client = client_module("client").AuthenticatedClient(base_url=served.url, token=token)

    with client:
        body = models.CampaignCreate.from_dict({"name": "Generated client", "channel": "email"})
        created = create_campaign.sync_detailed(
            client=client, body=body, idempotency_key="generated-1"
        )
        assert created.status_code == 201, created.content
        campaign = created.parsed
        assert isinstance(campaign, models.CampaignDetail)
        assert campaign.status.value == "draft"

        replayed = create_campaign.sync_detailed(
            client=client, body=body, idempotency_key="generated-1"
        )
        assert replayed.headers["Idempotent-Replayed"] == "true"
        assert replayed.parsed.id == campaign.id

        rows: list[dict[str, Any]] = [
            {"email": f"person{i}@example.com", "first_name": f"Person {i}"} for i in range(5)
        ]
        added = add_contacts.sync(
            campaign.id, client=client, body=models.BulkAddIn.from_dict({"contacts": rows})
        )
        assert isinstance(added, models.BulkAddOut), added
        assert added.summary.created == 5

        emails, cursor, pages = set(), None, 0
        while True:
            page = list_contacts.sync(
                campaign.id, client=client, limit=2, **({"cursor": cursor} if cursor else {})
            )
            assert isinstance(page, models.PageCampaignContactOut), page
            emails |= {item.contact.email for item in page.items}
            pages += 1
            cursor = page.next_cursor
            if not cursor:
                break
        assert (emails, pages) == ({row["email"] for row in rows}, 3)

        listed = list_campaigns.sync(client=client, limit=200)
        assert campaign.id in {item.id for item in listed.items}

        # A problem is parsed too, its code one of those the document lists.
        missing = get_campaign.sync(campaign_id=org.id, client=client)
        assert missing.code.value == "NOT_FOUND"
        assert json.loads(json.dumps(missing.to_dict()))["status"] == 404
