"""The canvas of a campaign's sequence (drip-workflows.md's visual builder), as API.md
"Sequences" fixes it: nodes, edges, viewport and settings, and each node type's config.

The canvas is read leniently (`CanvasIn`: a node's `type` and `config` are checked later, node by
node), so that a bad graph is answered with every problem named by its node or edge id
(`graph/validation.py`) instead of pydantic's list positions. The typed configs below are what a
valid node's `config` parses into.
"""

import uuid
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from outreach.kit.text import OneLine

MAX_NODES = 200
MAX_EDGES = 400

NodeType = Literal[
    "trigger",
    "message",  # the default graph's one touch, on the channel the planner assigned
    "email",
    "sms",
    "linkedin",
    "call",
    "letter",
    "wait",
    "condition",
    "split",
    "action",
    "exit",
]
NODE_TYPES: tuple[NodeType, ...] = get_args(NodeType)
# Steps that reach the contact: through the outbox (email, sms) or as a task (the others).
MESSAGE_TYPES = frozenset({"message", "email", "sms", "linkedin", "call", "letter"})
OUTBOX_TYPES = frozenset({"email", "sms"})
TASK_TYPES = frozenset({"linkedin", "call", "letter"})
# The template channel each message step needs (`message` takes the campaign's templates).
# Templates exist for these channels only: a call or letter task shows the text of any
# template it names, else the campaign's (as the planner's voice and mail tasks always did).
TEMPLATE_CHANNEL: dict[str, str] = {"email": "email", "sms": "sms", "linkedin": "linkedin"}

EdgeType = Literal["default", "conditional-true", "conditional-false"]  # or `variant-<id>`

NodeId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
]
VariantId = Annotated[str, StringConstraints(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
Label = Annotated[str, StringConstraints(max_length=200), OneLine]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True), OneLine
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Position(_Strict):
    x: float = 0
    y: float = 0


class Viewport(_Strict):
    x: float = 0
    y: float = 0
    zoom: float = 1


class NodeData(_Strict):
    label: Label = ""
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="By node type: `trigger` {`type`: manual | tag (`tag`) | score "
        "(`threshold`) | webhook | scheduled (`cron`)}; `email` / `sms` / `linkedin` / `call` / "
        "`letter` {`template_id`, LinkedIn `kind`: connection_request | inmail}; `wait` "
        "{`type`: duration, `value`, `unit`} or {`type`: until_event, `event`: opened | clicked "
        "| replied, `timeout`: {`value`, `unit`}}, either with `business_days`; `condition` "
        "{`condition`}; `split` {`variants`: [{`id`, `name`, `percentage`}], `ab_test`}; "
        "`action` {`type`: tag (`add`, `remove`) | score (`delta`) | field_update (`field`, "
        "`value`) | webhook (`url`, `method`, `payload`)}; `exit` {}.",
    )


class NodeIn(_Strict):
    id: NodeId
    type: Annotated[str, StringConstraints(max_length=40)] = Field(
        description=f"One of {', '.join(NODE_TYPES)} (`message`: the default graph's step on the "
        "channel the planner assigns)"
    )  # checked by validation, with its own code
    position: Position = Field(default_factory=Position)
    data: NodeData = Field(default_factory=NodeData)


class EdgeIn(_Strict):
    id: NodeId
    source: NodeId
    target: NodeId
    type: Annotated[str, StringConstraints(max_length=60)] = Field(
        default="default",
        description="`default`; out of a condition `conditional-true` / `conditional-false`; "
        "out of a split `variant-<variant id>`",
    )
    label: Label | None = None


class WorkflowSettings(_Strict):
    stop_on_reply: bool = True
    # An out-of-office reply pauses the walk until the return date it states, else this long.
    auto_reply_pause_days: int = Field(default=7, ge=1, le=60)
    # Failed node executions (a webhook that fails, say) are retried this often, then `failed`.
    max_retries: int = Field(default=3, ge=0, le=10)


class CanvasIn(_Strict):
    nodes: list[NodeIn] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[EdgeIn] = Field(default_factory=list, max_length=MAX_EDGES)
    viewport: Viewport = Field(default_factory=Viewport)
    settings: WorkflowSettings = Field(default_factory=WorkflowSettings)


# -- node configs ----------------------------------------------------------------------------

TimeUnit = Literal["seconds", "minutes", "hours", "days"]
UNIT_SECONDS: dict[str, int] = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


class TimeSpan(_Strict):
    value: int = Field(ge=1, le=366 * 86400)
    unit: TimeUnit

    @property
    def seconds(self) -> int:
        return self.value * UNIT_SECONDS[self.unit]


class TriggerConfig(_Strict):
    type: Literal["manual", "tag", "score", "webhook", "scheduled"] = "manual"
    tag: Tag | None = None  # type tag: enroll a campaign contact when this tag is added
    threshold: int | None = None  # type score: enroll when the score reaches it
    cron: Annotated[str, StringConstraints(max_length=100), OneLine] | None = None  # scheduled


class MessageConfig(_Strict):
    template_id: uuid.UUID | None = None  # required on every type but `message`
    kind: Literal["connection_request", "inmail"] | None = None  # LinkedIn only


class DurationWait(_Strict):
    type: Literal["duration"]
    value: int = Field(ge=1, le=366 * 86400)
    unit: TimeUnit
    business_days: bool = False  # count only the campaign's sending days, end inside its window

    @property
    def seconds(self) -> int:
        return self.value * UNIT_SECONDS[self.unit]


WaitEvent = Literal["opened", "clicked", "replied"]


class EventWait(_Strict):
    type: Literal["until_event"]
    event: WaitEvent
    timeout: TimeSpan
    business_days: bool = False


WaitConfig = Annotated[DurationWait | EventWait, Field(discriminator="type")]

Operator = Literal["==", "!=", ">", "<", ">=", "<=", "contains", "in"]


class Condition(_Strict):
    """The spec's Condition. `field`: a contact field (`email`, `first_name`, `last_name`,
    `company_name`, `title`, `phone`, `linkedin_url`, `lead_tier`, `timezone`) or
    `custom.<name>`; `score`: the contact's score; `tag`: `value` is a tag the contact has
    (`==`) or has not (`!=`); `event`: the count of the contact's human events of `event_type`
    in this campaign within the last `time_window` hours (all time when absent); `time`:
    `field` one of `hour`, `weekday` (1 = Monday), `date` in the campaign's time zone, or
    `hours_since_enrolled`; `composite`: `sub_conditions` joined by `logic`."""

    type: Literal["field", "score", "tag", "event", "time", "composite"]
    operator: Operator = "=="
    field: Annotated[str, StringConstraints(max_length=100)] | None = None
    value: Any = None
    event_type: WaitEvent | Literal["converted", "unsubscribed", "bounced", "sent"] | None = None
    time_window: float | None = Field(default=None, gt=0, le=24 * 366)
    sub_conditions: list["Condition"] | None = Field(default=None, max_length=20)
    logic: Literal["AND", "OR"] | None = None


class ConditionConfig(_Strict):
    condition: Condition


WinnerMetric = Literal[
    "open_rate", "click_rate", "reply_rate", "conversion_rate", "engagement_score"
]


class ABTestConfig(_Strict):
    enabled: bool = True
    winner_metric: WinnerMetric = "open_rate"
    minimum_sample_size: int = Field(default=100, ge=1, le=1_000_000)
    confidence_threshold: float = Field(default=95.0, ge=50, le=99.99)
    auto_select_winner: bool = False


class Variant(_Strict):
    id: VariantId
    name: Label = ""
    percentage: float = Field(ge=0, le=100)


class SplitConfig(_Strict):
    variants: list[Variant] = Field(min_length=2, max_length=10)
    ab_test: ABTestConfig | None = None


class TagAction(_Strict):
    type: Literal["tag"]
    add: list[Tag] = Field(default_factory=list, max_length=20)
    remove: list[Tag] = Field(default_factory=list, max_length=20)


class ScoreAction(_Strict):
    type: Literal["score"]
    delta: int = Field(ge=-1000, le=1000)


class FieldUpdateAction(_Strict):
    type: Literal["field_update"]
    field: Annotated[str, StringConstraints(max_length=100)]  # as Condition.field
    value: Annotated[str, StringConstraints(max_length=2000)] | int | float | bool | None


class WebhookAction(_Strict):
    type: Literal["webhook"]
    url: Annotated[str, StringConstraints(max_length=2000), OneLine]
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    # Values may hold personalization tokens ({{first_name}}), rendered in the sandbox.
    payload: dict[str, Any] = Field(default_factory=dict)


ActionConfig = Annotated[
    TagAction | ScoreAction | FieldUpdateAction | WebhookAction, Field(discriminator="type")
]


class ExitConfig(_Strict):
    pass


NodeConfig = (
    TriggerConfig
    | MessageConfig
    | DurationWait
    | EventWait
    | ConditionConfig
    | SplitConfig
    | TagAction
    | ScoreAction
    | FieldUpdateAction
    | WebhookAction
    | ExitConfig
)
