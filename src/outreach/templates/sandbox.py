"""Jinja2's sandbox with a bound on the work a template may ask for.

A tenant writes templates, so a template is hostile ground: on top of the sandbox's attribute
guards, every render has a budget (time, loop iterations, output) and no value it builds may
outgrow the output limit. The bounds are enforced where work is done, before it is done:

- loops: every `for` iterates through a guard that counts iterations, charges the loop body's
  static text per iteration and watches the clock; `range()` is capped; recursive loops, and
  `include` / `import` / `extends` / `from` (templates have no files) are refused;
- every `{{ }}` output goes through a guard (a filter) that charges it, as does the static
  text of each macro, call block and block when it runs;
- `*`, `**`, `%`, `+` and `~` refuse a result over the limits before building it, every call
  (macros included) watches the clock, filters that can amplify check the size they would make;
- methods of plain values are a short list of harmless ones (`upper`, `split`, ...).

The other guards are reached through an extension's attribute, which no template can shadow.
What can be seen before rendering (over-large constant loops, ranges and multiplications,
refused tags) is refused when the template is parsed, so at save time.
"""

import inspect
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from itertools import chain
from types import BuiltinMethodType, MethodType
from typing import Any, cast

from jinja2 import StrictUndefined, TemplateRuntimeError, TemplateSyntaxError, nodes, pass_context
from jinja2.ext import Extension
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Cycler, Joiner, Namespace
from markupsafe import escape

MAX_ITERATIONS = 10_000  # loop iterations per message
MAX_RANGE = 10_000  # items of one range()
MAX_OUTPUT = 500_000  # characters a message renders to, and the size of any value it builds
MAX_INT_BITS = 4_096  # integers built by * and **
STEP_ASIDE_SECONDS = 0.001
OUTPUT_FILTER = "_output"  # a name no template can redefine (templates define no filters)

# What personalization needs; the others can amplify (center, zfill, join, format...).
STR_METHODS = frozenset({
    "upper", "lower", "title", "capitalize", "casefold", "swapcase", "strip", "lstrip", "rstrip",
    "split", "rsplit", "splitlines", "partition", "rpartition", "startswith", "endswith", "find",
    "rfind", "index", "rindex", "count", "removeprefix", "removesuffix", "replace", "isalpha",
    "isalnum", "isdigit", "isnumeric", "isdecimal", "isspace", "islower", "isupper", "istitle",
    "striptags", "unescape"
})  # fmt: skip
SAFE_METHODS: dict[type, frozenset[str]] = {
    str: STR_METHODS,
    dict: frozenset({"get", "items", "keys", "values"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
}
# Values whose methods are all refused: some build huge results (int.to_bytes, bytes.center).
NO_METHODS = (int, float, complex, bytes, bytearray, set, frozenset, range)
REFUSED_TAGS = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from",
    nodes.Extends: "extends",
}


class TemplateLimitExceeded(TemplateRuntimeError):
    """The template asks for more than a render may do (time, iterations, output, size)."""


class TemplateTimeExceeded(TemplateLimitExceeded):
    """The render ran out of time."""


class StaticLimitExceeded(TemplateSyntaxError):
    """The template is over a limit as written: refused without rendering it."""


class TagNotAllowed(TemplateSyntaxError):
    """`include`, `import`, `extends`, `from` or a recursive loop."""


class Budget:
    """What one message's render may still do; the guards draw on it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds
        self.step_aside_at = time.monotonic() + STEP_ASIDE_SECONDS
        self.iterations = MAX_ITERATIONS
        self.output = MAX_OUTPUT

    def tick(self) -> None:
        now = time.monotonic()
        if now > self.deadline:
            raise TemplateTimeExceeded(f"rendering took longer than {self.seconds:g} s")
        if now > self.step_aside_at:
            # Hand the GIL over now and then: the event loop answers while a render runs.
            time.sleep(0)
            self.step_aside_at = now + STEP_ASIDE_SECONDS

    def step(self, static_chars: int) -> None:
        self.iterations -= 1
        if self.iterations < 0:
            raise TemplateLimitExceeded(f"more than {MAX_ITERATIONS:,} loop iterations")
        self.charge(static_chars)

    def charge(self, chars: int) -> None:
        self.output -= chars
        if self.output < 0:
            raise TemplateLimitExceeded(f"the output is over {MAX_OUTPUT:,} characters")
        self.tick()


_BUDGET: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


@contextmanager
def budget(seconds: float) -> Iterator[Budget]:
    """A budget for one message, the one the guards draw on (in this thread) until the end."""
    token = _BUDGET.set(Budget(seconds))
    try:
        yield _current()
    finally:
        _BUDGET.reset(token)


def _current() -> Budget:
    current = _BUDGET.get()
    if current is None:
        raise TemplateRuntimeError("templates render within a budget (sandbox.budget)")
    return current


def _tick() -> None:
    current = _BUDGET.get()
    if current is not None:  # None when Jinja folds constants at compile time
        current.tick()


def _check_size(size: int, what: str = "a value") -> None:
    if size > MAX_OUTPUT:
        raise TemplateLimitExceeded(f"{what} would be over {MAX_OUTPUT:,} characters")


def _weight(value: Any) -> int:
    """About how many characters `value` is as text, counted no further than the limit: a
    list may hold one big string many times over."""
    total, pending = 0, [value]
    while pending and total <= MAX_OUTPUT:
        item = pending.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            pending.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            pending.extend(chain.from_iterable(item.items()))
        elif isinstance(item, Namespace):
            pending.append(vars(item))
        elif isinstance(item, int):
            total += 1 + item.bit_length() // 3
        else:
            total += 1
    return total


def _check_value(value: Any, what: str = "a value") -> None:
    if not isinstance(value, str) or len(value) > MAX_OUTPUT:
        _check_size(_weight(value), what)


def _bits(value: Any) -> int:
    return value.bit_length() if isinstance(value, int) else 0


def _power_too_big(base: Any, exponent: Any) -> bool:
    return (
        isinstance(base, int)
        and isinstance(exponent, int)
        and exponent > 0
        and abs(base) > 1
        and base.bit_length() * exponent > MAX_INT_BITS
    )


def _length(value: Any) -> int | None:
    return len(value) if isinstance(value, str | list | tuple) else None


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?[a-zA-Z%]")


def _percent_size(template: str, values: Any) -> int:
    """An upper bound of `template % values`."""
    specs = _PERCENT_SPEC.findall(template)
    if any("*" in spec for spec in specs):
        raise TemplateLimitExceeded("'*' widths are not allowed in % formatting")
    widest = max((int(n) for spec in specs for n in spec if n), default=0)
    return len(template) + len(specs) * (widest + _weight(values))


def _replace_size(text: str, old: str, new: str, count: int | None = -1) -> int:
    found = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def _binop_size(operator: str, left: Any, right: Any) -> None:
    """Refuses an arithmetic result over the limits before it is built."""
    if operator == "*":
        if isinstance(left, int) and isinstance(right, int):
            if _bits(left) + _bits(right) > MAX_INT_BITS:
                raise TemplateLimitExceeded(f"a number would be over {MAX_INT_BITS:,} bits")
            return
        for sequence, times in ((left, right), (right, left)):
            size = _length(sequence)
            if size is not None and isinstance(times, int):
                _check_size(size * times)
    elif operator == "**" and _power_too_big(left, right):
        raise TemplateLimitExceeded(f"a number would be over {MAX_INT_BITS:,} bits")
    elif operator == "+":
        sizes = _length(left), _length(right)
        if sizes[0] is not None and sizes[1] is not None:
            _check_size(sizes[0] + sizes[1])
    elif operator == "%" and isinstance(left, str):
        _check_size(_percent_size(left, right))


# -- filters -----------------------------------------------------------------------------


def _filter_size(name: str, arguments: dict[str, Any]) -> int | None:
    """The most a filter that can amplify its input may produce with these arguments."""
    a = arguments
    match name:
        case "center":
            return max(len(str(a["value"])), int(a["width"]))
        case "indent":
            width = a["width"]
            text = str(a["s"])
            per_line = len(width) if isinstance(width, str) else int(width)
            return len(text) + (text.count("\n") + 1) * per_line
        case "wordwrap":
            return len(str(a["s"])) * (1 + len(str(a["wrapstring"] or "\n")))
        case "format":
            return _percent_size(str(a["value"]), a["args"] or a["kwargs"])
        case "replace":
            return _replace_size(str(a["s"]), str(a["old"]), str(a["new"]), a["count"])
        case "batch":
            return int(a["linecount"]) if a["fill_with"] is not None else None
        case "slice":
            return int(a["slices"])
        case "urlize":
            extra = len(str(a["target"] or "")) + len(str(a["rel"] or "")) + 40
            return len(str(a["value"])) * (3 + extra)
        case "tojson":
            indent = a["indent"] or 0
            return _weight(a["value"]) * (2 + (len(indent) if isinstance(indent, str) else indent))
    return None


def _materialized(name: str, arguments: dict[str, Any]) -> None:
    """`join` and `sum` read their whole input: made a list first, to be weighed."""
    if name == "join":
        items = arguments["value"] = list(arguments["value"])
        _check_size(_weight(items) + max(0, len(items) - 1) * len(str(arguments["d"])))
    elif name == "sum":
        items = arguments["iterable"] = list(arguments["iterable"])
        if not isinstance(arguments["start"], int | float):
            _check_size(sum(len(item) for item in items if hasattr(item, "__len__")))


_MATERIALIZED = {"join", "sum"}
_SIZED = {"center", "indent", "wordwrap", "format", "replace", "batch", "slice", "urlize", "tojson"}


def _guarded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` refusing an input over the size limit, and the sizes `_filter_size` knows."""
    skip = 1 if getattr(function, "jinja_pass_arg", None) is not None else 0
    signature = inspect.signature(function)

    @wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        if len(args) > skip:
            _check_value(args[skip], f"the input of the {name} filter")
        if name in _SIZED or name in _MATERIALIZED:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            _materialized(name, bound.arguments)
            size = _filter_size(name, bound.arguments)
            if size is not None:
                _check_size(size, f"the result of the {name} filter")
            args, kwargs = bound.args, bound.kwargs
        return function(*args, **kwargs)

    return guarded


def _bounded_range(*args: int) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateLimitExceeded(f"range() is limited to {MAX_RANGE:,} items")
    return numbers


# -- the guards compiled into templates --------------------------------------------------


@pass_context
def _output(context: Context, value: Any) -> str:
    """Every `{{ }}`: checked, escaped when the template escapes, and charged. A filter,
    compiled to a direct call: outputs are the most frequent guard."""
    _check_value(value, "an output")
    text = escape(value) if context.eval_ctx.autoescape else str(value)
    _current().charge(len(text))
    return text


class _Guards(Extension):
    """What a guarded template calls besides `_output`: `loop`, `charge`, `concat`."""

    def loop(self, iterable: Iterable[Any], static_chars: int) -> Iterator[Any]:
        current = _current()
        for item in iterable:
            current.step(static_chars)
            yield item

    def charge(self, chars: int) -> str:
        _current().charge(chars)
        return ""

    @pass_context
    def concat(self, context: Context, *values: Any) -> str:
        _check_size(sum(_weight(value) for value in values))
        join = markup_join if context.eval_ctx.autoescape else str_join
        return join(values)


def _static_text(body: Iterable[nodes.Node]) -> int:
    """The static text a body outputs each time it runs (bodies that charge their own aside)."""
    total = 0
    for node in body:
        if isinstance(node, nodes.TemplateData):
            total += len(node.data)
        elif not isinstance(node, _SELF_CHARGING):
            total += _static_text(node.iter_child_nodes())
    return total


_SELF_CHARGING = (nodes.For, nodes.Macro, nodes.CallBlock, nodes.Block)


def _guard(node: nodes.Node, guards: _Guards) -> None:
    """Rewrites the tree in place so that its loops, outputs and concatenations are guarded."""
    for child in list(node.iter_child_nodes()):
        _guard(child, guards)
    for field in node.fields:
        value = getattr(node, field)
        if isinstance(value, list):
            setattr(node, field, [_concat(item, guards) for item in value])
        elif isinstance(value, nodes.Node):
            setattr(node, field, _concat(value, guards))
    if isinstance(node, nodes.For):
        static = nodes.Const(_static_text(node.body))
        iterable = cast(nodes.Expr, node.iter)
        node.iter = guards.call_method("loop", [iterable, static], lineno=node.lineno)
    elif isinstance(node, nodes.Macro | nodes.CallBlock | nodes.Block):
        charge = guards.call_method("charge", [nodes.Const(_static_text(node.body))])
        node.body.insert(0, nodes.ExprStmt(charge, lineno=node.lineno))
    elif isinstance(node, nodes.Output):
        node.nodes = [
            child
            if isinstance(child, nodes.TemplateData)
            else nodes.Filter(child, OUTPUT_FILTER, [], [], None, None, lineno=child.lineno)
            for child in node.nodes
        ]


def _concat(node: Any, guards: _Guards) -> Any:
    if isinstance(node, nodes.Concat):
        return guards.call_method("concat", node.nodes, lineno=node.lineno)
    return node


# -- what can be seen before rendering ---------------------------------------------------


def _const_int(node: nodes.Node) -> int | None:
    if isinstance(node, nodes.Const) and type(node.value) is int:
        return node.value
    if isinstance(node, nodes.Neg):
        value = _const_int(node.node)
        return None if value is None else -value
    return None


def _const_size(node: nodes.Node) -> int | None:
    """The length of a constant string or list, multiplications of them included."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return len(node.value)
    if isinstance(node, nodes.List | nodes.Tuple):
        return len(node.items)
    if isinstance(node, nodes.Mul):
        for sequence, times in ((node.left, node.right), (node.right, node.left)):
            size, count = _const_size(sequence), _const_int(times)
            if size is not None and count is not None:
                return size * count
    return None


def _range_size(node: nodes.Node) -> int | None:
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "range"
        and not node.kwargs
        and 1 <= len(node.args) <= 3
    ):
        numbers = [_const_int(arg) for arg in node.args]
        if all(n is not None for n in numbers) and numbers[-1] != 0:
            return len(range(*numbers))  # type: ignore[arg-type]
    return None


def _refuse_statically(ast: nodes.Template) -> None:
    """Raises TagNotAllowed or StaticLimitExceeded for what the template shows as written."""
    for node in ast.find_all(tuple(REFUSED_TAGS)):
        raise TagNotAllowed(f"{{% {REFUSED_TAGS[type(node)]} %}} is not allowed", node.lineno)
    for loop in ast.find_all(nodes.For):
        if loop.recursive:
            raise TagNotAllowed("recursive loops are not allowed", loop.lineno)
    for call in ast.find_all(nodes.Call):
        size = _range_size(call)
        if size is not None and size > MAX_RANGE:
            raise StaticLimitExceeded(f"range() is limited to {MAX_RANGE:,} items", call.lineno)
    for product in ast.find_all(nodes.Mul):
        size = _const_size(product)
        if size is not None and size > MAX_OUTPUT:
            raise StaticLimitExceeded(
                f"a value would be over {MAX_OUTPUT:,} characters", product.lineno
            )
    for power in ast.find_all(nodes.Pow):
        if _power_too_big(_const_int(power.left), _const_int(power.right)):
            raise StaticLimitExceeded(f"a number would be over {MAX_INT_BITS:,} bits", power.lineno)
    iterations, output = _constant_work(ast.body, 1)
    if iterations > MAX_ITERATIONS:
        raise StaticLimitExceeded(f"its loops make more than {MAX_ITERATIONS:,} iterations", 1)
    if output > MAX_OUTPUT:
        raise StaticLimitExceeded(f"its loops output more than {MAX_OUTPUT:,} characters", 1)


def _loop_size(loop: nodes.For) -> int:
    """How many times a loop runs, when its iterable shows it (else counted as once)."""
    size = _range_size(loop.iter)
    if size is None and isinstance(loop.iter, nodes.Const | nodes.List | nodes.Tuple):
        size = _const_size(loop.iter)
    return 1 if size is None else size


def _constant_work(body: Iterable[nodes.Node], times: int) -> tuple[int, int]:
    """Loop iterations and static output of `body` run `times` times, as far as constant
    loop bounds show them."""
    iterations = output = 0
    for node in body:
        if isinstance(node, nodes.TemplateData):
            output += times * len(node.data)
        elif isinstance(node, nodes.For):
            runs = times * _loop_size(node)
            inner = _constant_work(node.body, runs)
            iterations, output = iterations + runs + inner[0], output + inner[1]
        else:
            inner = _constant_work(node.iter_child_nodes(), times)
            iterations, output = iterations + inner[0], output + inner[1]
    return iterations, output


# -- the environment ---------------------------------------------------------------------


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox with the guards: see the module's docstring."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, *, autoescape: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, extensions=[_Guards])
        # lipsum() builds text of any size; range() is bounded.
        self.globals = {
            "range": _bounded_range,
            "dict": dict,
            "cycler": Cycler,
            "joiner": Joiner,
            "namespace": Namespace,
        }
        self.filters = {name: _guarded_filter(name, f) for name, f in self.filters.items()}
        self.filters[OUTPUT_FILTER] = _output

    def parse_guarded(self, source: str) -> nodes.Template:
        """The template's tree, refused if it is over a limit as written, then guarded."""
        try:
            ast = self.parse(source)
        except RecursionError as exc:
            raise StaticLimitExceeded("the template is nested too deeply", 1) from exc
        _refuse_statically(ast)
        return ast

    def guard(self, ast: nodes.Template) -> nodes.Template:
        extension = self.extensions[_Guards.identifier]
        assert isinstance(extension, _Guards)
        _guard(ast, extension)
        return ast

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        for kind, allowed in SAFE_METHODS.items():
            if isinstance(obj, kind):
                return attr in allowed
        return not isinstance(obj, NO_METHODS)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # The sandbox's hook for str methods that need a wrapper: `format` is refused (by
        # is_safe_attribute: a width can amplify), `replace` checks the size it would make.
        if (
            isinstance(value, BuiltinMethodType | MethodType)
            and value.__name__ == "replace"
            and isinstance(value.__self__, str)
        ):
            text, replace = value.__self__, value

            def guarded(old: str, new: str, count: int = -1) -> str:
                _check_size(_replace_size(text, str(old), str(new), count))
                return str(replace(old, new, count))

            return guarded
        return None

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _tick()
        _binop_size(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        _tick()
        return super().call(__context, __obj, *args, **kwargs)
