"""Canvas validation (issue 10 item 2): every rule with its own test, each problem named by its
node or edge with its own code, all problems at once."""

import copy
import inspect
import re
import uuid
from typing import Any

from outreach.errors import FieldError
from outreach.workflows.graph import validation
from outreach.workflows.graph.default import default_canvas
from outreach.workflows.graph.schemas import CanvasIn
from outreach.workflows.graph.validation import CODES, Templates, problems, template_ids

EMAIL = uuid.uuid4()
EMAIL_2 = uuid.uuid4()
SMS = uuid.uuid4()
INVITE = uuid.uuid4()
TEMPLATES: Templates = {
    EMAIL: ("email", None),
    EMAIL_2: ("email", None),
    SMS: ("sms", None),
    INVITE: ("linkedin", "connection_request"),
}


def node(node_id: str, type_: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "data": {"label": node_id, "config": config}}


def edge(
    source: str, target: str, type_: str = "default", edge_id: str | None = None
) -> dict[str, str]:
    return {
        "id": edge_id or f"{source}-{target}",
        "source": source,
        "target": target,
        "type": type_,
    }


def sequence() -> dict[str, Any]:
    """A sound sequence with one node of every kind: email, wait on a click, condition, split
    into an SMS and a tag action, LinkedIn, exit."""
    return {
        "nodes": [
            node("start", "trigger", type="manual"),
            node("intro", "email", template_id=str(EMAIL)),
            node(
                "wait",
                "wait",
                type="until_event",
                event="clicked",
                timeout={"value": 3, "unit": "days"},
            ),
            node(
                "clicked",
                "condition",
                condition={"type": "event", "event_type": "clicked", "operator": ">=", "value": 1},
            ),
            node(
                "split",
                "split",
                variants=[{"id": "a", "percentage": 50}, {"id": "b", "percentage": 50}],
            ),
            node("sms", "sms", template_id=str(SMS)),
            node("tag", "action", type="tag", add=["hot"]),
            node("invite", "linkedin", template_id=str(INVITE), kind="connection_request"),
            node("done", "exit"),
        ],
        "edges": [
            edge("start", "intro"),
            edge("intro", "wait"),
            edge("wait", "clicked"),
            edge("clicked", "tag", "conditional-true"),
            edge("clicked", "split", "conditional-false"),
            edge("split", "sms", "variant-a"),
            edge("split", "invite", "variant-b"),
            edge("sms", "done"),
            edge("tag", "done"),
            edge("invite", "done"),
        ],
    }


def check(canvas: dict[str, Any], templates: Templates = TEMPLATES) -> list[FieldError]:
    return problems(CanvasIn.model_validate(canvas), templates)


def codes(canvas: dict[str, Any], templates: Templates = TEMPLATES) -> set[tuple[str, str]]:
    return {(problem.field, problem.code) for problem in check(canvas, templates)}


def changed(path: str, value: Any, canvas: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sequence with the config key `node_id.key` set to `value` (None removes it)."""
    canvas = copy.deepcopy(canvas or sequence())
    node_id, key = path.split(".")
    config = next(n for n in canvas["nodes"] if n["id"] == node_id)["data"]["config"]
    if value is None:
        config.pop(key, None)
    else:
        config[key] = value
    return canvas


def test_a_sound_sequence_has_no_problems() -> None:
    assert check(sequence()) == []


def test_the_default_graph_has_no_problems() -> None:
    assert problems(default_canvas(), {}) == []


def test_template_ids_lists_the_templates_message_steps_name() -> None:
    assert template_ids(CanvasIn.model_validate(sequence())) == {EMAIL, SMS, INVITE}


def test_an_unknown_node_type_is_refused() -> None:
    canvas = sequence()
    canvas["nodes"][6]["type"] = "fax"
    assert ("nodes.tag", "WORKFLOW_NODE_TYPE_UNKNOWN") in codes(canvas)


def test_an_invalid_config_is_refused_with_pydantics_message() -> None:
    found = check(changed("wait.timeout", {"value": 0, "unit": "days"}))
    assert [(p.field, p.code) for p in found] == [("nodes.wait", "WORKFLOW_NODE_CONFIG_INVALID")]
    assert found[0].message.startswith("config.until_event.timeout.value: Input should be")


def test_a_duplicate_node_id_is_refused() -> None:
    canvas = sequence()
    canvas["nodes"].append(node("tag", "exit"))
    assert ("nodes.tag", "WORKFLOW_DUPLICATE_ID") in codes(canvas)


def test_a_duplicate_edge_id_is_refused() -> None:
    canvas = sequence()
    canvas["edges"].append(edge("tag", "done"))
    assert ("edges.tag-done", "WORKFLOW_DUPLICATE_ID") in codes(canvas)


def test_a_workflow_without_a_trigger_is_refused() -> None:
    canvas = sequence()
    canvas["nodes"][0] = node("start", "action", type="score", delta=5)
    assert ("nodes", "WORKFLOW_TRIGGER_COUNT") in codes(canvas)


def test_a_second_trigger_is_refused() -> None:
    canvas = sequence()
    canvas["nodes"].append(node("again", "trigger"))
    canvas["edges"].append(edge("again", "intro"))
    found = codes(canvas)
    assert {
        ("nodes.start", "WORKFLOW_TRIGGER_COUNT"),
        ("nodes.again", "WORKFLOW_TRIGGER_COUNT"),
    } <= found


def test_an_unreachable_node_is_refused() -> None:
    canvas = sequence()
    canvas["nodes"].append(node("orphan", "email", template_id=str(EMAIL)))
    canvas["edges"].append(edge("orphan", "done"))
    assert codes(canvas) == {("nodes.orphan", "WORKFLOW_NODE_UNREACHABLE")}


def test_an_edge_to_a_missing_node_is_refused() -> None:
    canvas = sequence()
    canvas["edges"].append(edge("tag", "nowhere", edge_id="lost"))
    assert ("edges.lost", "WORKFLOW_EDGE_MISSING_NODE") in codes(canvas)


def test_a_cycle_without_a_wait_is_refused() -> None:
    canvas = sequence()
    canvas["edges"] = [e for e in canvas["edges"] if e["id"] != "tag-done"]
    canvas["edges"].append(edge("tag", "clicked"))  # clicked -> tag -> clicked
    found = codes(canvas)
    assert {
        ("nodes.clicked", "WORKFLOW_CYCLE_WITHOUT_WAIT"),
        ("nodes.tag", "WORKFLOW_CYCLE_WITHOUT_WAIT"),
    } <= found
    assert ("nodes.wait", "WORKFLOW_CYCLE_WITHOUT_WAIT") not in found


def test_a_cycle_through_a_wait_is_allowed() -> None:
    canvas = sequence()
    canvas["edges"] = [e for e in canvas["edges"] if e["id"] != "tag-done"]
    canvas["edges"].append(edge("tag", "wait"))  # wait -> clicked -> tag -> wait
    assert check(canvas) == []


def test_a_node_looping_to_itself_without_waiting_is_refused() -> None:
    canvas = sequence()
    canvas["edges"] = [e for e in canvas["edges"] if e["id"] != "tag-done"]
    canvas["edges"].append(edge("tag", "tag"))
    assert ("nodes.tag", "WORKFLOW_CYCLE_WITHOUT_WAIT") in codes(canvas)


def test_a_condition_needs_one_true_and_one_false_edge() -> None:
    canvas = sequence()
    canvas["edges"][4]["type"] = "conditional-true"  # two true, no false
    assert codes(canvas) == {("nodes.clicked", "WORKFLOW_CONDITION_EDGES")}


def test_a_split_needs_one_edge_per_variant() -> None:
    canvas = sequence()
    canvas["edges"] = [e for e in canvas["edges"] if e["id"] != "split-invite"]
    found = codes(canvas)
    assert ("nodes.split", "WORKFLOW_SPLIT_EDGES") in found


def test_split_percentages_must_sum_to_100() -> None:
    variants = [{"id": "a", "percentage": 50}, {"id": "b", "percentage": 40}]
    assert codes(changed("split.variants", variants)) == {
        ("nodes.split", "WORKFLOW_SPLIT_PERCENTAGES")
    }


def test_split_variant_ids_are_unique() -> None:
    variants = [{"id": "a", "percentage": 50}, {"id": "a", "percentage": 50}]
    assert ("nodes.split", "WORKFLOW_SPLIT_VARIANTS") in codes(changed("split.variants", variants))


def test_a_template_that_does_not_exist_is_refused() -> None:
    canvas = changed("intro.template_id", str(uuid.uuid4()))
    assert codes(canvas) == {("nodes.intro", "WORKFLOW_TEMPLATE_MISSING")}


def test_a_message_step_needs_a_template() -> None:
    assert codes(changed("sms.template_id", None)) == {("nodes.sms", "WORKFLOW_TEMPLATE_REQUIRED")}


def test_a_call_step_may_go_without_a_template() -> None:
    canvas = sequence()
    canvas["nodes"][5] = node("sms", "call")
    assert check(canvas) == []


def test_a_template_of_another_channel_is_refused() -> None:
    canvas = changed("sms.template_id", str(EMAIL))
    assert codes(canvas) == {("nodes.sms", "WORKFLOW_TEMPLATE_CHANNEL")}


def test_a_linkedin_template_of_the_other_kind_is_refused() -> None:
    canvas = changed("invite.kind", "inmail")
    assert codes(canvas) == {("nodes.invite", "WORKFLOW_TEMPLATE_KIND")}


def test_kind_applies_to_linkedin_steps_only() -> None:
    canvas = changed("intro.kind", "inmail")
    assert codes(canvas) == {("nodes.intro", "WORKFLOW_NODE_CONFIG_INVALID")}


def test_a_default_message_step_takes_no_template_of_its_own() -> None:
    canvas = default_canvas().model_dump(mode="json")
    canvas["nodes"][1]["data"]["config"] = {"template_id": str(EMAIL)}
    assert codes(canvas) == {("nodes.message", "WORKFLOW_NODE_CONFIG_INVALID")}


def test_a_message_after_another_on_the_same_channel_without_a_wait_is_refused() -> None:
    canvas = sequence()
    canvas["nodes"].append(node("again", "email", template_id=str(EMAIL_2)))
    canvas["edges"][1] = edge("intro", "again")
    canvas["edges"].append(edge("again", "wait"))
    assert codes(canvas) == {("nodes.again", "WORKFLOW_SAME_CHANNEL_WITHOUT_WAIT")}


def test_the_same_channel_counts_across_other_steps_without_a_wait() -> None:
    # intro (email) -> text -> again (email): the two emails still go out together.
    canvas = sequence()
    canvas["nodes"] += [
        node("text", "sms", template_id=str(SMS)),
        node("again", "email", template_id=str(EMAIL_2)),
    ]
    canvas["edges"][1] = edge("intro", "text")
    canvas["edges"] += [edge("text", "again"), edge("again", "wait")]
    assert codes(canvas) == {("nodes.again", "WORKFLOW_SAME_CHANNEL_WITHOUT_WAIT")}


def test_messages_on_other_channels_need_no_wait_between_them() -> None:
    canvas = sequence()
    canvas["nodes"].append(node("text", "sms", template_id=str(SMS)))
    canvas["edges"][1] = edge("intro", "text")
    canvas["edges"].append(edge("text", "wait"))
    assert check(canvas) == []


def test_a_conditional_edge_out_of_a_plain_step_is_refused() -> None:
    canvas = sequence()
    canvas["edges"][0]["type"] = "conditional-true"
    assert ("edges.start-intro", "WORKFLOW_EDGE_TYPE") in codes(canvas)


def test_an_edge_to_a_variant_the_split_does_not_have_is_refused() -> None:
    canvas = sequence()
    canvas["edges"][6]["type"] = "variant-c"
    found = codes(canvas)
    assert {
        ("edges.split-invite", "WORKFLOW_EDGE_TYPE"),
        ("nodes.split", "WORKFLOW_SPLIT_EDGES"),
    } <= found


def test_a_node_with_no_way_on_is_refused_not_read_as_an_exit() -> None:
    canvas = sequence()
    canvas["edges"] = [e for e in canvas["edges"] if e["id"] != "tag-done"]
    assert codes(canvas) == {("nodes.tag", "WORKFLOW_NODE_DEAD_END")}


def test_two_next_steps_out_of_one_node_are_refused() -> None:
    canvas = sequence()
    canvas["edges"].append(edge("tag", "sms"))
    assert ("nodes.tag", "WORKFLOW_NODE_BRANCHES") in codes(canvas)


def test_an_edge_out_of_an_exit_is_refused() -> None:
    canvas = sequence()
    canvas["edges"].append(edge("done", "wait"))
    assert ("edges.done-wait", "WORKFLOW_EXIT_EDGE") in codes(canvas)


def test_an_edge_into_the_trigger_is_refused() -> None:
    canvas = sequence()
    canvas["edges"] = [e for e in canvas["edges"] if e["id"] != "tag-done"]
    canvas["edges"].append(edge("tag", "start"))
    assert ("edges.tag-start", "WORKFLOW_TRIGGER_INCOMING") in codes(canvas)


def test_a_condition_that_cannot_be_evaluated_is_refused() -> None:
    condition = {"type": "field", "field": "salary", "operator": ">", "value": 3}
    found = check(changed("clicked.condition", condition))
    assert [(p.field, p.code) for p in found] == [("nodes.clicked", "WORKFLOW_CONDITION_INVALID")]
    assert "unknown field 'salary'" in found[0].message


def test_a_trigger_needs_what_its_type_needs() -> None:
    assert codes(changed("start.type", "tag")) == {("nodes.start", "WORKFLOW_TRIGGER_CONFIG")}
    score = changed("start.tag", "hot", changed("start.type", "score"))
    assert {p.message for p in check(score)} == {
        "A score trigger needs `threshold`",
        "`tag` does not apply to a score trigger",
    }


def test_a_scheduled_trigger_needs_a_valid_cron() -> None:
    canvas = changed("start.cron", "61 9 * * *", changed("start.type", "scheduled"))
    assert codes(canvas) == {("nodes.start", "WORKFLOW_TRIGGER_CONFIG")}
    assert check(changed("start.cron", "0 9 * * 1", canvas)) == []
    assert check(changed("start.cron", "0 9 * * 7", canvas)) == []  # cron's Sunday, as 0


def test_a_tag_action_must_add_or_remove_a_tag() -> None:
    assert codes(changed("tag.add", [])) == {("nodes.tag", "WORKFLOW_ACTION_INVALID")}


def test_a_field_update_must_name_a_contact_field() -> None:
    canvas = sequence()
    canvas["nodes"][6] = node("tag", "action", type="field_update", field="salary", value=1)
    assert codes(canvas) == {("nodes.tag", "WORKFLOW_ACTION_INVALID")}


def test_a_field_update_never_sets_the_email() -> None:
    canvas = sequence()
    canvas["nodes"][6] = node("tag", "action", type="field_update", field="email", value="x@y.z")
    assert codes(canvas) == {("nodes.tag", "WORKFLOW_ACTION_INVALID")}


def test_a_webhook_action_needs_an_http_url() -> None:
    canvas = sequence()
    canvas["nodes"][6] = node("tag", "action", type="webhook", url="file:///etc/passwd")
    assert codes(canvas) == {("nodes.tag", "WORKFLOW_WEBHOOK_URL")}


def test_every_problem_is_reported_at_once() -> None:
    canvas = sequence()
    canvas["nodes"][5]["type"] = "fax"
    canvas["nodes"].append(node("orphan", "exit"))
    canvas["edges"].append(edge("tag", "nowhere", edge_id="lost"))
    canvas = changed("intro.template_id", str(uuid.uuid4()), canvas)
    assert codes(canvas) == {
        ("nodes.sms", "WORKFLOW_NODE_TYPE_UNKNOWN"),
        ("nodes.orphan", "WORKFLOW_NODE_UNREACHABLE"),
        ("edges.lost", "WORKFLOW_EDGE_MISSING_NODE"),
        ("nodes.intro", "WORKFLOW_TEMPLATE_MISSING"),
    }


def test_every_code_the_validator_gives_is_documented() -> None:
    # Codes as arguments ("CODE", message), not as the keys of CODES ("CODE": meaning).
    given = set(re.findall(r'"(WORKFLOW_[A-Z_]+)",\s', inspect.getsource(validation)))
    assert given == set(CODES)
