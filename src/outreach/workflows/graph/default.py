"""The default graph: what every campaign did before sequences (one touch, then done)."""

from outreach.workflows.graph.schemas import CanvasIn, EdgeIn, NodeData, NodeIn, Position

START, MESSAGE, EXIT = "start", "message", "exit"


def default_canvas() -> CanvasIn:
    """Trigger, one message on the channel the planner assigned to the contact (with the
    campaign's template, or its A/B variant's), exit."""
    return CanvasIn(
        nodes=[
            NodeIn(
                id=START,
                type="trigger",
                position=Position(x=0, y=0),
                data=NodeData(label="Enrolled", config={"type": "manual"}),
            ),
            NodeIn(
                id=MESSAGE,
                type="message",
                position=Position(x=0, y=120),
                data=NodeData(label="First touch"),
            ),
            NodeIn(
                id=EXIT, type="exit", position=Position(x=0, y=240), data=NodeData(label="Done")
            ),
        ],
        edges=[
            EdgeIn(id="start-message", source=START, target=MESSAGE),
            EdgeIn(id="message-exit", source=MESSAGE, target=EXIT),
        ],
    )
