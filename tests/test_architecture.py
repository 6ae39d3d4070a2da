"""The package import graph of `outreach` is acyclic: no package imports a package that
imports it back, directly or through others (STYLE rule 18). Imports inside functions count."""

import ast
from collections import defaultdict
from pathlib import Path

import outreach

ROOT = Path(outreach.__file__).parent
# Sub-packages of these count as packages of their own.
SPLIT = {"events", "sending", "workflows"}


def package_of(module: str) -> str:
    """`outreach.sending.delivery.worker` -> `sending.delivery`; `outreach.db` -> `db`."""
    parts = module.split(".")[1:]
    if len(parts) > 1 and parts[0] in SPLIT and (ROOT / parts[0] / parts[1]).is_dir():
        return ".".join(parts[:2])
    return parts[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    module = module_name(path)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[
                    : len(module.split(".")) - node.level + (path.stem == "__init__")
                ]
                base = ".".join([*package, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("outreach.")}


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        if path == ROOT / "__init__.py":
            continue
        source = package_of(module_name(path))
        for name in imported(path):
            target = package_of(_existing(name))
            if target != source:
                graph[source].add(target)
    return graph


def _existing(name: str) -> str:
    """The longest prefix of `name` that is a module or package (drops imported attributes)."""
    parts = name.split(".")
    while len(parts) > 2:
        path = ROOT.parent.joinpath(*parts)
        if path.is_dir() or path.with_suffix(".py").exists():
            break
        parts.pop()
    return ".".join(parts)


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_graph_has_no_cycle() -> None:
    graph = import_graph()
    described = [
        " / ".join(component)
        + ": "
        + "; ".join(f"{a} -> {b}" for a in component for b in sorted(graph[a]) if b in component)
        for component in cycles(graph)
    ]
    assert not described, "import cycles between packages:\n" + "\n".join(described)


def test_the_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# A table has one writer (STYLE rule 14): these statements appear in their owner only.
OWNED_WRITES = {
    "INSERT INTO outbox_messages": "sending/outbox",
    "UPDATE outbox_messages": "sending/outbox",
    "update(OutboxMessage)": "sending/outbox",
    "INSERT INTO tasks": "tasks",
    "UPDATE tasks": "tasks",
    "INSERT INTO campaign_ab_test_results": "workflows/splits",
    "UPDATE campaign_ab_test_results": "workflows/splits",
    "INSERT INTO campaign_workflow_states": "workflows/enrollments",
    "UPDATE campaign_workflow_states": "workflows/enrollments",
    "INSERT INTO sender_mailboxes": "mailboxes",
    "UPDATE sender_mailboxes": "mailboxes",
    "INSERT INTO inbox_messages": "inbox",
    "UPDATE inbox_messages": "inbox",
}


def test_outbox_messages_and_tasks_are_written_by_their_owners_only() -> None:
    leaks = [
        f"{path.relative_to(ROOT)}: {statement}"
        for path in ROOT.rglob("*.py")
        for statement, owner in OWNED_WRITES.items()
        if statement in path.read_text() and not path.is_relative_to(ROOT / owner)
    ]
    assert not leaks, "writes outside the table's owner:\n" + "\n".join(leaks)


# One tenancy path: the organization is set for a session or connection in one module only,
# in the tests as in the code (this file names what it looks for, so it is passed over).
TENANCY = ROOT / "kit" / "tenancy.py"
TESTS = Path(__file__).parent
SETS_THE_ORG = ("set_config('app.org_id'", 'info["org_id"] =')


def test_the_organization_is_set_in_the_tenancy_module_only() -> None:
    leaks = [
        f"{path}: {statement}"
        for folder in (ROOT, TESTS)
        for path in folder.rglob("*.py")
        for statement in SETS_THE_ORG
        if statement in path.read_text() and path not in (TENANCY, Path(__file__))
    ]
    assert not leaks, "the organization set outside kit/tenancy.py:\n" + "\n".join(leaks)
    assert all(statement in TENANCY.read_text() for statement in SETS_THE_ORG)
