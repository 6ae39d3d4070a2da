"""The tables, one module each. The schema itself is defined by the Alembic migrations."""

from outreach.models.ab_test_result import AbTestResult
from outreach.models.audit_entry import AuditEntry
from outreach.models.base import Base
from outreach.models.campaign import Campaign
from outreach.models.campaign_contact import CampaignContact
from outreach.models.campaign_workflow import CampaignVersion, CampaignWorkflow
from outreach.models.caught_message import CaughtMessage
from outreach.models.contact import Contact
from outreach.models.contact_import import ContactImport
from outreach.models.engagement_event import EngagementEvent
from outreach.models.idempotency_key import IdempotencyKey
from outreach.models.inbox_message import InboxMessage
from outreach.models.message_template import MessageTemplate
from outreach.models.organization import Organization
from outreach.models.outbox_message import OutboxMessage
from outreach.models.segment import CampaignSegment, Segment
from outreach.models.sender import Sender
from outreach.models.sender_mailbox import SenderMailbox
from outreach.models.sms_provider import SmsProvider
from outreach.models.suppression import Suppression
from outreach.models.task import Task
from outreach.models.user_profile import UserProfile
from outreach.models.webhook_delivery import WebhookDelivery
from outreach.models.webhook_subscription import WebhookSubscription
from outreach.models.workflow_state import WorkflowState

__all__ = [
    "AbTestResult",
    "AuditEntry",
    "Base",
    "Campaign",
    "CampaignContact",
    "CampaignSegment",
    "CampaignVersion",
    "CampaignWorkflow",
    "CaughtMessage",
    "Contact",
    "ContactImport",
    "EngagementEvent",
    "IdempotencyKey",
    "InboxMessage",
    "MessageTemplate",
    "Organization",
    "OutboxMessage",
    "Segment",
    "Sender",
    "SenderMailbox",
    "SmsProvider",
    "Suppression",
    "Task",
    "UserProfile",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkflowState",
]
