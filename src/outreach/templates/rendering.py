"""The template engine: Jinja2's sandbox with limits, personalization token discovery, and
rendering off the event loop.

Shared by template validation, previews and the sending engine, so a message is always
rendered the way its template was checked.
"""

import asyncio
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from jinja2 import Template, TemplateError, TemplateRuntimeError, meta, nodes

from outreach.models import Contact
from outreach.templates.sandbox import (
    BoundedSandbox,
    StaticLimitExceeded,
    TemplateLimitExceeded,
    TemplateTimeExceeded,
)

T = TypeVar("T")

KNOWN_TOKENS = frozenset(
    {
        "first_name",
        "last_name",
        "full_name",
        "email",
        "company_name",
        "title",
        "linkedin_url",
        "phone",
        "sender_name",
        "campaign_name",
    }
)
CUSTOM_PREFIX = "custom."

_TEXT = BoundedSandbox(autoescape=False)
# HTML bodies escape what they are filled with: a contact's name must not become markup
_HTML = BoundedSandbox(autoescape=True)
# Few threads: rendering holds the GIL, and the event loop must get it often enough to
# answer (health checks, other tenants) while a template runs up to its time limit.
_THREADS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")


def find_tokens(source: str) -> frozenset[str]:
    """The personalization tokens `source` uses: `first_name`, `custom.team`, ...

    Attribute access on a token is part of the token (`first_name.upper` is a token of its
    own, and an unknown one), so only `custom.<key>` reaches into a value. Raises
    `jinja2.TemplateSyntaxError` when `source` is not a valid template, and its subclasses
    `sandbox.TagNotAllowed` and `sandbox.StaticLimitExceeded` for a refused tag or a template
    over the limits as written. Compiling a long template takes long: call it off the loop.
    """
    return _prepared(source, html=False)[1]


def unknown_tokens(tokens: Iterable[str]) -> list[str]:
    return sorted(token for token in tokens if token not in KNOWN_TOKENS and not _custom_key(token))


def custom_keys(tokens: Iterable[str]) -> set[str]:
    return {key for key in map(_custom_key, tokens) if key}


@dataclass(frozen=True)
class Personalization:
    """What a message is filled with: the known tokens' values and the custom fields."""

    values: Mapping[str, str | None]
    custom: Mapping[str, Any]

    @classmethod
    def for_contact(
        cls, contact: Contact, *, sender_name: str, campaign_name: str
    ) -> "Personalization":
        names = [part for part in (contact.first_name, contact.last_name) if part]
        return cls(
            values={
                "first_name": contact.first_name,
                "last_name": contact.last_name,
                "full_name": " ".join(names),
                "email": contact.email,
                "company_name": contact.company_name,
                "title": contact.title,
                "linkedin_url": contact.linkedin_url,
                "phone": contact.phone,
                "sender_name": sender_name,
                "campaign_name": campaign_name,
            },
            custom=contact.custom_fields,
        )

    def missing(self, tokens: Iterable[str]) -> list[str]:
        """The tokens without a value: they render as empty text."""
        return sorted(token for token in tokens if self._value(token) in (None, ""))

    def _value(self, token: str) -> Any:
        key = _custom_key(token)
        return self.values.get(token) if key is None else self.custom.get(key)


def render(source: str, personalization: Personalization, *, html: bool = False) -> str:
    """`source` filled in; a token without a value renders as empty text. Runs within the
    budget of `sandbox.budget`.

    Raises `jinja2.TemplateError` when the template is invalid, breaks the sandbox, fails
    (any error of its own: `{{ 1/0 }}`) or is over a limit (`sandbox.TemplateLimitExceeded`).
    """
    template, tokens = _prepared(source, html)
    context = {token: personalization.values.get(token) or "" for token in KNOWN_TOKENS}
    blanks = dict.fromkeys(custom_keys(tokens), "")
    given = {key: "" if value is None else value for key, value in personalization.custom.items()}
    try:
        return template.render(context, custom=blanks | given)
    except TemplateError:
        raise
    except RecursionError as exc:
        raise TemplateLimitExceeded("macros or blocks call each other too deeply") from exc
    except Exception as exc:  # a template's own failure: {{ 1/0 }}, ...
        raise TemplateRuntimeError(f"{type(exc).__name__}: {exc}") from exc


@lru_cache(maxsize=512)
def _prepared(source: str, html: bool) -> tuple[Template, frozenset[str]]:
    """The template compiled with its guards, and its tokens. Remembered: compiling costs far
    more than rendering, and a campaign renders one template many times."""
    environment = _HTML if html else _TEXT
    try:
        ast = environment.parse_guarded(source)
        undeclared = meta.find_undeclared_variables(ast)
        tokens = frozenset(
            _token(name, parent)
            for name, parent in _names(ast, None)
            if name.ctx == "load" and name.name in undeclared
        )
        # unknown filters and tests are found only when compiling
        return environment.from_string(environment.guard(ast)), tokens
    except RecursionError as exc:
        raise StaticLimitExceeded("the template is nested too deeply", 1) from exc


@dataclass(frozen=True)
class Renderer:
    """Runs template work (rendering, checking) in the render threads, off the event loop,
    each message within `seconds` (OUTREACH_TEMPLATE_RENDER_SECONDS)."""

    seconds: float

    async def run(self, work: Callable[[], T], *, messages: int = 1) -> T:
        """Waits for `work` at most the time of its `messages` and one more (for a queue).

        Past that, work not started yet is dropped and started work stops at its next guard
        point (its own budget's deadline); raises `sandbox.TemplateTimeExceeded`.
        """
        wait = self.seconds * (messages + 1)
        loop = asyncio.get_running_loop()
        try:
            return await asyncio.wait_for(loop.run_in_executor(_THREADS, work), wait)
        except TimeoutError as exc:
            raise TemplateTimeExceeded(f"rendering took longer than {wait:g} s") from exc


def _names(
    node: nodes.Node, parent: nodes.Node | None
) -> Iterable[tuple[nodes.Name, nodes.Node | None]]:
    if isinstance(node, nodes.Name):
        yield node, parent
    for child in node.iter_child_nodes():
        yield from _names(child, node)


def _token(name: nodes.Name, parent: nodes.Node | None) -> str:
    if isinstance(parent, nodes.Getattr) and parent.node is name:
        return f"{name.name}.{parent.attr}"
    if (
        isinstance(parent, nodes.Getitem)
        and parent.node is name
        and isinstance(parent.arg, nodes.Const)
        and isinstance(parent.arg.value, str)
    ):
        return f"{name.name}.{parent.arg.value}"
    return name.name


def _custom_key(token: str) -> str | None:
    key = token.removeprefix(CUSTOM_PREFIX)
    return key if key != token and key else None
