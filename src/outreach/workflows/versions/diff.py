"""What changed between two versions: nodes and edges by id (added, removed, changed with what
changed in them), campaign settings and workflow settings by name. Node ids are what the engine
knows a node by, so a node that keeps its id is the same step, changed, not removed and added."""

from collections.abc import Mapping
from typing import Any

from outreach.workflows.graph.model import parse_config
from outreach.workflows.graph.schemas import CanvasIn, NodeIn
from outreach.workflows.versions.schemas import (
    EdgeChange,
    EdgesDiff,
    NodeChange,
    NodesDiff,
    SettingChange,
)

EDGE_FIELDS = ("source", "target", "type", "label")


def nodes_diff(before: CanvasIn, after: CanvasIn) -> NodesDiff:
    old = {node.id: node for node in before.nodes}
    new = {node.id: node for node in after.nodes}
    changed = []
    for node_id, node in new.items():
        previous = old.get(node_id)
        if previous is None:
            continue
        fields = [
            name
            for name, a, b in (
                ("type", previous.type, node.type),
                ("label", previous.data.label, node.data.label),
                ("position", previous.position, node.position),
            )
            if a != b
        ]
        fields += [f"config.{key}" for key in changed_keys(_config(previous), _config(node))]
        if fields:
            changed.append(NodeChange(id=node_id, type=node.type, changed=fields))
    return NodesDiff(
        added=[node_id for node_id in new if node_id not in old],
        removed=[node_id for node_id in old if node_id not in new],
        changed=changed,
    )


def _config(node: NodeIn) -> dict[str, Any]:
    """A node's config with its defaults filled in, so that `{}` and `{"type": "manual"}` of a
    trigger are the same (versions hold valid canvases only)."""
    config: dict[str, Any] = parse_config(node.type, node.data.config).model_dump(mode="json")
    return config


def edges_diff(before: CanvasIn, after: CanvasIn) -> EdgesDiff:
    old = {edge.id: edge for edge in before.edges}
    new = {edge.id: edge for edge in after.edges}
    changed = []
    for edge_id, edge in new.items():
        previous = old.get(edge_id)
        if previous is None:
            continue
        fields = [name for name in EDGE_FIELDS if getattr(previous, name) != getattr(edge, name)]
        if fields:
            changed.append(EdgeChange(id=edge_id, changed=fields))
    return EdgesDiff(
        added=[edge_id for edge_id in new if edge_id not in old],
        removed=[edge_id for edge_id in old if edge_id not in new],
        changed=changed,
    )


def changed_keys(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The keys whose values differ (a key present on one side only included), in order."""
    keys = [*before, *(key for key in after if key not in before)]
    return [key for key in keys if before.get(key) != after.get(key)]


def setting_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[SettingChange]:
    return [
        SettingChange(field=key, before=before.get(key), after=after.get(key))
        for key in changed_keys(before, after)
    ]
