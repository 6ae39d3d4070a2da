"""What the workflow and version routes take and answer."""

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from outreach.workflows.graph.model import SequenceType
from outreach.workflows.graph.schemas import CanvasIn

ChangeType = Literal["draft", "published", "archived", "ab_test_started", "ab_test_completed"]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)]


class WorkflowOut(BaseModel):
    """A campaign's draft sequence."""

    campaign_id: uuid.UUID
    canvas: CanvasIn
    published_version: int | None = Field(
        description="The latest published version (new enrollments take it); null: never published"
    )
    draft_changed: bool = Field(
        description="The draft differs from the latest published version (or none was published)"
    )
    sequence_type: SequenceType = Field(
        description="`ab_test` with a split node, `branching` with a condition, else `linear`"
    )
    trigger_url: str | None = Field(
        description="The signed URL of the webhook trigger (`POST` a contact to enroll it); "
        "shown only to those who may edit the campaign"
    )
    updated_by: uuid.UUID | None
    updated_at: datetime


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    change_description: Description | None = None


class VersionOut(BaseModel):
    """One entry of a campaign's history."""

    version: int
    change_type: ChangeType
    change_description: str | None
    created_by: uuid.UUID | None
    created_at: datetime


class StepEdgeOut(BaseModel):
    edge_id: str
    type: str
    target: str


class VersionStepOut(BaseModel):
    """A node as the engine reads it: its typed config with defaults filled in."""

    node_id: str
    node_type: str
    label: str
    config: dict[str, Any]
    next: list[StepEdgeOut]


class VersionDetail(VersionOut):
    """A version's snapshot: the campaign's settings, the steps and the canvas."""

    campaign: dict[str, Any]
    steps: list[VersionStepOut]
    canvas: CanvasIn


class NodeChange(BaseModel):
    id: str
    type: str
    changed: list[str] = Field(
        description="What changed: `type`, `label`, `position`, `config.<key>`"
    )


class EdgeChange(BaseModel):
    id: str
    changed: list[str] = Field(description="What changed: `source`, `target`, `type`, `label`")


class NodesDiff(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[NodeChange]


class EdgesDiff(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[EdgeChange]


class SettingChange(BaseModel):
    field: str
    before: Any
    after: Any


class VersionDiff(BaseModel):
    """What changed from version `from_version` to version `to_version`."""

    from_version: int
    to_version: int
    nodes: NodesDiff
    edges: EdgesDiff
    campaign_changes: list[SettingChange] = Field(
        description="Campaign settings that differ between the two snapshots"
    )
    settings_changes: list[SettingChange] = Field(
        description="Workflow settings (`stop_on_reply`, ...) that differ"
    )
