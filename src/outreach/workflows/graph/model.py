"""The compiled graph the engine walks: each node with its typed config, the edges out of it."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import TypeAdapter

from outreach.workflows.graph.schemas import (
    MESSAGE_TYPES,
    ActionConfig,
    CanvasIn,
    ConditionConfig,
    EdgeIn,
    ExitConfig,
    MessageConfig,
    NodeConfig,
    SplitConfig,
    TriggerConfig,
    WaitConfig,
    WorkflowSettings,
)

_CONFIGS: dict[str, TypeAdapter[Any]] = {
    "trigger": TypeAdapter(TriggerConfig),
    "wait": TypeAdapter(WaitConfig),
    "condition": TypeAdapter(ConditionConfig),
    "split": TypeAdapter(SplitConfig),
    "action": TypeAdapter(ActionConfig),
    "exit": TypeAdapter(ExitConfig),
}
_CONFIGS.update(dict.fromkeys(MESSAGE_TYPES, TypeAdapter(MessageConfig)))


# The drip kind of a sequence (the spec's campaign_type of a drip campaign).
SequenceType = Literal["linear", "branching", "ab_test"]


def sequence_type(canvas: CanvasIn) -> SequenceType:
    """`ab_test` when the canvas splits, `branching` when it has a condition, else `linear`."""
    types = {node.type for node in canvas.nodes}
    if "split" in types:
        return "ab_test"
    return "branching" if "condition" in types else "linear"


def parse_config(node_type: str, config: Mapping[str, Any]) -> NodeConfig:
    """The typed config of a node of `node_type` (raises pydantic's ValidationError, or
    KeyError for a type that does not exist)."""
    parsed: NodeConfig = _CONFIGS[node_type].validate_python(dict(config))
    return parsed


@dataclass(frozen=True)
class Node:
    id: str
    type: str
    label: str
    config: NodeConfig


@dataclass(frozen=True)
class Graph:
    """A valid canvas, ready to walk. Built only from canvases that passed validation (a
    published version), so every edge leads to a node and there is one trigger."""

    nodes: Mapping[str, Node]
    edges: Mapping[str, tuple[EdgeIn, ...]]  # by source node
    start: str  # the trigger node
    settings: WorkflowSettings

    @classmethod
    def compile(cls, canvas: CanvasIn) -> "Graph":
        nodes = {
            node.id: Node(
                node.id, node.type, node.data.label, parse_config(node.type, node.data.config)
            )
            for node in canvas.nodes
        }
        edges: dict[str, list[EdgeIn]] = {}
        for edge in canvas.edges:
            edges.setdefault(edge.source, []).append(edge)
        start = next(node.id for node in canvas.nodes if node.type == "trigger")
        return cls(nodes, {k: tuple(v) for k, v in edges.items()}, start, canvas.settings)

    def next(self, node_id: str, edge_type: str = "default") -> str | None:
        """The node after `node_id` along its edge of `edge_type`; None: the walk ends there."""
        for edge in self.edges.get(node_id, ()):
            if edge.type == edge_type:
                return edge.target
        return None
