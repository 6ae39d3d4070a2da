"""Fixtures for a campaign's contacts."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Org, create_campaign


@pytest.fixture
def campaign(client: TestClient, org: Org) -> dict[str, Any]:
    """A draft email campaign for talent sourcing."""
    return create_campaign(client, org, campaign_type="talent_sourcing")
