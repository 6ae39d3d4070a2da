"""Every problem of a canvas, each named by its node (`nodes.<id>`) or edge (`edges.<id>`) and
with its own code, all at once: the builder shows them on the drawing.

A canvas that passes can be compiled (`Graph.compile`) and walked: one trigger, every node
reachable from it, every node but an exit with its way on (a node with none is refused, not
read as an implicit exit, so that every path ends where the drawing says), conditions with
their true and false edges, splits with one edge per variant, no loop the engine could run
round without waiting, and messages whose templates exist and suit their channel.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import ValidationError

from outreach.errors import FieldError
from outreach.workflows.graph import cron
from outreach.workflows.graph.conditions import is_field_name, validate_condition
from outreach.workflows.graph.model import parse_config
from outreach.workflows.graph.schemas import (
    MESSAGE_TYPES,
    NODE_TYPES,
    TEMPLATE_CHANNEL,
    CanvasIn,
    ConditionConfig,
    EdgeIn,
    FieldUpdateAction,
    MessageConfig,
    NodeConfig,
    NodeIn,
    SplitConfig,
    TagAction,
    TriggerConfig,
    WebhookAction,
)

Successors = Callable[[str], Iterable[str]]
# A template's channel and, for LinkedIn, its kind, by template id.
Templates = Mapping[uuid.UUID, tuple[str, str | None]]

# Each problem's code, and what it means (documented on the routes that validate).
CODES = {
    "WORKFLOW_NODE_TYPE_UNKNOWN": "a node type that does not exist",
    "WORKFLOW_NODE_CONFIG_INVALID": "a node's config does not fit its type",
    "WORKFLOW_DUPLICATE_ID": "two nodes, or two edges, with one id",
    "WORKFLOW_TRIGGER_COUNT": "no trigger node, or more than one",
    "WORKFLOW_TRIGGER_CONFIG": "a trigger without what its type needs",
    "WORKFLOW_TRIGGER_INCOMING": "an edge into the trigger",
    "WORKFLOW_NODE_UNREACHABLE": "no path from the trigger to the node",
    "WORKFLOW_NODE_DEAD_END": "a node other than an exit with no edge out",
    "WORKFLOW_NODE_BRANCHES": "more than one edge out of a node that does not branch",
    "WORKFLOW_EXIT_EDGE": "an edge out of an exit",
    "WORKFLOW_EDGE_MISSING_NODE": "an edge from or to a node that does not exist",
    "WORKFLOW_EDGE_TYPE": "an edge type its source cannot have",
    "WORKFLOW_CYCLE_WITHOUT_WAIT": "a loop with no wait on it",
    "WORKFLOW_CONDITION_EDGES": "a condition without one true and one false edge",
    "WORKFLOW_CONDITION_INVALID": "a condition that cannot be evaluated as written",
    "WORKFLOW_SPLIT_EDGES": "a split without one edge per variant",
    "WORKFLOW_SPLIT_PERCENTAGES": "variant percentages that do not add up to 100",
    "WORKFLOW_SPLIT_VARIANTS": "two variants of a split with one id",
    "WORKFLOW_TEMPLATE_REQUIRED": "an email, SMS or LinkedIn step without a template",
    "WORKFLOW_TEMPLATE_MISSING": "a template that does not exist",
    "WORKFLOW_TEMPLATE_CHANNEL": "a template of another channel than the step's",
    "WORKFLOW_TEMPLATE_KIND": "a LinkedIn template of the other kind than the step's",
    "WORKFLOW_SAME_CHANNEL_WITHOUT_WAIT": "a message after another on its channel, no wait between",
    "WORKFLOW_ACTION_INVALID": "a tag action with no tag, a field update of a field it cannot set",
    "WORKFLOW_WEBHOOK_URL": "a webhook action whose URL is not http(s) with a host",
}
CONDITION_EDGES = ("conditional-true", "conditional-false")
VARIANT_EDGE = "variant-"
# What a trigger of each type needs; the others' fields do not apply to it.
TRIGGER_FIELDS = {"tag": "tag", "score": "threshold", "scheduled": "cron"}


def template_ids(canvas: CanvasIn) -> set[uuid.UUID]:
    """The templates the canvas's message steps name (those that are ids at all)."""
    found = set()
    for node in canvas.nodes:
        value = node.data.config.get("template_id")
        if node.type in MESSAGE_TYPES and isinstance(value, str):
            try:
                found.add(uuid.UUID(value))
            except ValueError:
                continue  # the node's config check reports it
    return found


def problems(canvas: CanvasIn, templates: Templates) -> list[FieldError]:
    """Every problem of `canvas`; none: it is a graph the engine can walk. `templates` holds at
    least the templates the canvas names (`template_ids`) that exist."""
    check = _Check(canvas, templates)
    check.run()
    return check.found


@dataclass
class _Check:
    canvas: CanvasIn
    templates: Templates
    found: list[FieldError] = field(default_factory=list)
    nodes: dict[str, NodeIn] = field(default_factory=dict)
    configs: dict[str, NodeConfig] = field(default_factory=dict)
    # Edges whose two ends exist, by source and by target.
    out: dict[str, list[EdgeIn]] = field(default_factory=dict)
    into: dict[str, list[EdgeIn]] = field(default_factory=dict)

    def node(self, node_id: str, code: str, message: str) -> None:
        self.found.append(FieldError(f"nodes.{node_id}", code, message))

    def edge(self, edge_id: str, code: str, message: str) -> None:
        self.found.append(FieldError(f"edges.{edge_id}", code, message))

    def run(self) -> None:
        for node in self.canvas.nodes:
            if node.id in self.nodes:
                self.node(node.id, "WORKFLOW_DUPLICATE_ID", f"Node id {node.id!r} is used twice")
                continue
            self.nodes[node.id] = node
            self.check_node(node)
        triggers = [node.id for node in self.nodes.values() if node.type == "trigger"]
        self.check_trigger_count(triggers)
        self.check_edges()
        for node in self.nodes.values():
            self.check_way_on(node)
        self.check_reachable(triggers)
        self.check_cycles()
        self.check_same_channel()

    # -- nodes ---------------------------------------------------------------------------

    def check_node(self, node: NodeIn) -> None:
        if node.type not in NODE_TYPES:
            self.node(
                node.id,
                "WORKFLOW_NODE_TYPE_UNKNOWN",
                f"Unknown node type {node.type!r} (one of {', '.join(NODE_TYPES)})",
            )
            return
        try:
            config = parse_config(node.type, node.data.config)
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(["config", *(str(part) for part in error["loc"])])
                self.node(node.id, "WORKFLOW_NODE_CONFIG_INVALID", f"{where}: {error['msg']}")
            return
        self.configs[node.id] = config
        match config:
            case TriggerConfig():
                self.check_trigger(node.id, config)
            case MessageConfig():
                self.check_message(node.id, node.type, config)
            case ConditionConfig():
                for problem in validate_condition(config.condition):
                    self.node(node.id, "WORKFLOW_CONDITION_INVALID", problem)
            case SplitConfig():
                self.check_split(node.id, config)
            case TagAction() | FieldUpdateAction() | WebhookAction():
                self.check_action(node.id, config)

    def check_trigger(self, node_id: str, config: TriggerConfig) -> None:
        needed = TRIGGER_FIELDS.get(config.type)
        for name in TRIGGER_FIELDS.values():
            given = getattr(config, name) is not None
            if name == needed and not given:
                self.node(
                    node_id,
                    "WORKFLOW_TRIGGER_CONFIG",
                    f"A {config.type} trigger needs `{name}`",
                )
            elif name != needed and given:
                self.node(
                    node_id,
                    "WORKFLOW_TRIGGER_CONFIG",
                    f"`{name}` does not apply to a {config.type} trigger",
                )
        if (
            config.type == "scheduled"
            and config.cron is not None
            and not cron.is_valid(config.cron)
        ):
            message = "cron: five fields (minute hour day month weekday) a cron reader accepts"
            self.node(node_id, "WORKFLOW_TRIGGER_CONFIG", message)

    def check_message(self, node_id: str, node_type: str, config: MessageConfig) -> None:
        if config.kind is not None and node_type != "linkedin":
            self.node(
                node_id, "WORKFLOW_NODE_CONFIG_INVALID", "config.kind: only LinkedIn steps have it"
            )
        if node_type == "message":
            # The default graph's step sends the campaign's own templates, by the contact's channel.
            if config.template_id is not None:
                self.node(
                    node_id,
                    "WORKFLOW_NODE_CONFIG_INVALID",
                    "config.template_id: a message step sends the campaign's templates; use an "
                    "email, sms or linkedin step for a template of its own",
                )
            return
        channel = TEMPLATE_CHANNEL.get(node_type)
        if config.template_id is None:
            if channel is not None:  # calls and letters may go without (the task says what)
                self.node(
                    node_id,
                    "WORKFLOW_TEMPLATE_REQUIRED",
                    f"A {node_type} step needs `template_id`",
                )
            return
        template = self.templates.get(config.template_id)
        if template is None:
            self.node(
                node_id,
                "WORKFLOW_TEMPLATE_MISSING",
                f"Template {config.template_id} does not exist",
            )
            return
        template_channel, kind = template
        if channel is not None and template_channel != channel:
            self.node(
                node_id,
                "WORKFLOW_TEMPLATE_CHANNEL",
                f"A {node_type} step needs a {channel} template, not a {template_channel} one",
            )
        elif config.kind is not None and kind is not None and kind != config.kind:
            self.node(
                node_id,
                "WORKFLOW_TEMPLATE_KIND",
                f"The step is a LinkedIn {config.kind} and its template a {kind}",
            )

    def check_split(self, node_id: str, config: SplitConfig) -> None:
        ids = [variant.id for variant in config.variants]
        for repeated in sorted({i for i in ids if ids.count(i) > 1}):
            self.node(node_id, "WORKFLOW_SPLIT_VARIANTS", f"Variant id {repeated!r} is used twice")
        total = sum(variant.percentage for variant in config.variants)
        if abs(total - 100) > 0.001:
            self.node(
                node_id,
                "WORKFLOW_SPLIT_PERCENTAGES",
                f"Variant percentages add up to {total:g}, not 100",
            )

    def check_action(
        self, node_id: str, config: TagAction | FieldUpdateAction | WebhookAction
    ) -> None:
        match config:
            case TagAction(add=[], remove=[]):
                self.node(node_id, "WORKFLOW_ACTION_INVALID", "A tag action adds or removes tags")
            # The email is who the person is: automation never sets it (contacts refuses it).
            case FieldUpdateAction() if not is_field_name(config.field) or config.field == "email":
                self.node(
                    node_id,
                    "WORKFLOW_ACTION_INVALID",
                    f"{config.field!r} cannot be set by an action (a contact field other than "
                    "email, or custom.<name>)",
                )
            case WebhookAction():
                parts = urlsplit(config.url)
                if parts.scheme not in ("http", "https") or not parts.hostname:
                    self.node(
                        node_id,
                        "WORKFLOW_WEBHOOK_URL",
                        "A webhook calls an http:// or https:// URL with a host",
                    )

    def check_trigger_count(self, triggers: list[str]) -> None:
        if not triggers:
            self.found.append(
                FieldError("nodes", "WORKFLOW_TRIGGER_COUNT", "A workflow needs one trigger node")
            )
        elif len(triggers) > 1:
            for trigger in triggers:
                self.node(
                    trigger,
                    "WORKFLOW_TRIGGER_COUNT",
                    f"A workflow has one trigger, this one has {len(triggers)}",
                )

    # -- edges ---------------------------------------------------------------------------

    def check_edges(self) -> None:
        seen: set[str] = set()
        for edge in self.canvas.edges:
            if edge.id in seen:
                self.edge(edge.id, "WORKFLOW_DUPLICATE_ID", f"Edge id {edge.id!r} is used twice")
                continue
            seen.add(edge.id)
            missing = [end for end in (edge.source, edge.target) if end not in self.nodes]
            if missing:
                self.edge(
                    edge.id,
                    "WORKFLOW_EDGE_MISSING_NODE",
                    f"The edge leads from or to {' and '.join(map(repr, missing))}, "
                    "which is no node",
                )
                continue
            self.out.setdefault(edge.source, []).append(edge)
            self.into.setdefault(edge.target, []).append(edge)
            self.check_edge(edge, self.nodes[edge.source], self.nodes[edge.target])

    def check_edge(self, edge: EdgeIn, source: NodeIn, target: NodeIn) -> None:
        if source.type == "exit":
            self.edge(edge.id, "WORKFLOW_EXIT_EDGE", "Nothing follows an exit node")
        if target.type == "trigger":
            self.edge(edge.id, "WORKFLOW_TRIGGER_INCOMING", "No edge leads into the trigger")
        expected = self.edge_types(source)
        if expected is not None and edge.type not in expected:
            self.edge(
                edge.id,
                "WORKFLOW_EDGE_TYPE",
                f"An edge out of a {source.type} node is {' or '.join(expected)}, "
                f"not {edge.type!r}",
            )

    def edge_types(self, source: NodeIn) -> tuple[str, ...] | None:
        """The edge types that may leave `source`; None: not known (its config is invalid)."""
        if source.type == "condition":
            return CONDITION_EDGES
        if source.type == "split":
            config = self.configs.get(source.id)
            if not isinstance(config, SplitConfig):
                return None
            return tuple(VARIANT_EDGE + variant.id for variant in config.variants)
        return ("default",)

    def check_way_on(self, node: NodeIn) -> None:
        """Each node's edges out: a condition's true and false, a split's variants, one next
        step for the others, none for an exit."""
        types = [edge.type for edge in self.out.get(node.id, ())]
        if node.type == "exit":
            return
        if node.type == "condition":
            if sorted(types) != sorted(CONDITION_EDGES):
                self.node(
                    node.id,
                    "WORKFLOW_CONDITION_EDGES",
                    "A condition has one conditional-true and one conditional-false edge",
                )
            return
        if node.type == "split":
            expected = self.edge_types(node)
            if expected is not None and sorted(types) != sorted(expected):
                self.node(
                    node.id,
                    "WORKFLOW_SPLIT_EDGES",
                    f"A split has one edge per variant: {', '.join(expected)}",
                )
            return
        defaults = types.count("default")
        if defaults == 0 and not types:
            self.node(
                node.id,
                "WORKFLOW_NODE_DEAD_END",
                "The walk stops here: connect the node to the next step or to an exit",
            )
        elif defaults > 1:
            self.node(
                node.id,
                "WORKFLOW_NODE_BRANCHES",
                f"{defaults} edges leave this node: branch with a condition or a split",
            )

    # -- paths ---------------------------------------------------------------------------

    def successors(self, node_id: str) -> Iterator[str]:
        return (edge.target for edge in self.out.get(node_id, ()))

    def check_reachable(self, triggers: list[str]) -> None:
        if not triggers:
            return  # the missing trigger is the problem, not every node
        reached = set(_walk(triggers, self.successors))
        for node_id in self.nodes:
            if node_id not in reached:
                self.node(
                    node_id, "WORKFLOW_NODE_UNREACHABLE", "No path leads here from the trigger"
                )

    def check_cycles(self) -> None:
        """A loop must pass a wait, or the engine would run round it at once (and send again)."""
        waits = {node_id for node_id, node in self.nodes.items() if node.type == "wait"}

        def onward(node_id: str) -> Iterable[str]:
            return (target for target in self.successors(node_id) if target not in waits)

        for component in _components([n for n in self.nodes if n not in waits], onward):
            if len(component) > 1 or component[0] in set(onward(component[0])):
                loop = ", ".join(map(repr, component))
                for node_id in component:
                    self.node(
                        node_id,
                        "WORKFLOW_CYCLE_WITHOUT_WAIT",
                        f"On a loop with no wait, through {loop}",
                    )

    def check_same_channel(self) -> None:
        """Two messages on one channel with no wait between them reach the contact together.
        The default graph's `message` goes out on the contact's channel, which may be any."""
        steps = {
            node_id: node.type for node_id, node in self.nodes.items() if node.type in MESSAGE_TYPES
        }

        def onward(node_id: str) -> Iterable[str]:
            return () if self.nodes[node_id].type == "wait" else self.successors(node_id)

        following: dict[str, list[str]] = {}
        for first, channel in steps.items():
            for later in _walk(list(self.successors(first)), onward):
                if later in steps and (
                    channel == steps[later] or "message" in (channel, steps[later])
                ):
                    following.setdefault(later, []).append(first)
        for later, firsts in following.items():
            self.node(
                later,
                "WORKFLOW_SAME_CHANNEL_WITHOUT_WAIT",
                f"Follows {', '.join(map(repr, firsts))} on the same channel with no wait "
                "between them: add a wait",
            )


def _walk(starts: list[str], successors: Successors) -> Iterator[str]:
    """Every node reached from `starts` (themselves included), each once."""
    seen = set(starts)
    stack = list(starts)
    while stack:
        node_id = stack.pop()
        yield node_id
        for target in successors(node_id):
            if target not in seen:
                seen.add(target)
                stack.append(target)


def _components(nodes: list[str], successors: Successors) -> list[list[str]]:
    """The strongly connected components (Tarjan), each in the order it was entered."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # at most MAX_NODES deep
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in successors(node):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            found.append(component[::-1])

    for node in nodes:
        if node not in index:
            visit(node)
    return found
