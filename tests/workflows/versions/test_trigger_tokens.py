"""The webhook trigger's token: the organization, then an HMAC of it and the campaign under the
campaign's trigger key."""

import uuid

from outreach.workflows.versions import trigger_tokens

KEY = "a-trigger-key"
ORG, CAMPAIGN = uuid.uuid4(), uuid.uuid4()


def test_a_minted_token_names_its_organization_and_verifies_for_its_campaign_only() -> None:
    token = trigger_tokens.mint(KEY, ORG, CAMPAIGN)
    assert trigger_tokens.org_of(token) == ORG
    assert trigger_tokens.verify(token, KEY, ORG, CAMPAIGN)
    assert not trigger_tokens.verify(token, KEY, ORG, uuid.uuid4())
    assert not trigger_tokens.verify(token, "another-key", ORG, CAMPAIGN)
    assert not trigger_tokens.verify(
        trigger_tokens.mint(KEY, uuid.uuid4(), CAMPAIGN), KEY, ORG, CAMPAIGN
    )


def test_a_token_that_is_not_one_names_no_organization() -> None:
    assert trigger_tokens.org_of("not base64 !") is None
    assert trigger_tokens.org_of("c2hvcnQ") is None
    assert trigger_tokens.org_of(trigger_tokens.mint(KEY, ORG, CAMPAIGN)[:-4]) is None
