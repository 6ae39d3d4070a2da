"""The webhook trigger's token: the organization, then an HMAC of it and the campaign under the
campaign's trigger key."""

import uuid

from outreach.workflows.triggers import signing

KEY = "a-trigger-key"
ORG, CAMPAIGN = uuid.uuid4(), uuid.uuid4()


def test_a_minted_token_names_its_organization_and_verifies_for_its_campaign_only() -> None:
    token = signing.mint(KEY, ORG, CAMPAIGN)
    assert signing.org_of(token) == ORG
    assert signing.verify(token, KEY, ORG, CAMPAIGN)
    assert not signing.verify(token, KEY, ORG, uuid.uuid4())
    assert not signing.verify(token, "another-key", ORG, CAMPAIGN)
    assert not signing.verify(signing.mint(KEY, uuid.uuid4(), CAMPAIGN), KEY, ORG, CAMPAIGN)


def test_a_token_that_is_not_one_names_no_organization() -> None:
    assert signing.org_of("not base64 !") is None
    assert signing.org_of("c2hvcnQ") is None
    assert signing.org_of(signing.mint(KEY, ORG, CAMPAIGN)[:-4]) is None
