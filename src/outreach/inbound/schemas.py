"""Answers of the inbound routes."""

from pydantic import BaseModel, Field


class InboundResult(BaseModel):
    recorded: int = Field(description="Events recorded")
    duplicates: int = Field(description="Events the provider sent before (retries)")
    unmatched: int = Field(description="Events whose campaign contact could not be found")
    ignored: list[str] = Field(description="Records of a kind outreach does not track")
    subscription_confirmation_url: str | None = Field(
        None, description="SNS asks for its subscription to be confirmed at this URL"
    )


class InboundSecretOut(BaseModel):
    secret: str = Field(description="Shown once: signs generic events (X-Outreach-Signature)")
    kept_secrets: int = Field(description="How many secrets verify (the newest ones)")
    webhook_urls: dict[str, str] = Field(
        description="Per provider, the URL to configure (it carries a token of this secret)"
    )
