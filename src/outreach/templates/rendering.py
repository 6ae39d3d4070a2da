"""The template engine: Jinja2's sandbox, personalization token discovery, and rendering.

Shared by template validation, previews and the sending engine, so a message is always
rendered the way its template was checked.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, Template, meta, nodes
from jinja2.sandbox import SandboxedEnvironment

from outreach.models import Contact

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

_TEXT = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
# HTML bodies escape what they are filled with: a contact's name must not become markup
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)


def find_tokens(source: str) -> set[str]:
    """The personalization tokens `source` uses: `first_name`, `custom.team`, ...

    Attribute access on a token is part of the token (`first_name.upper` is a token of its
    own, and an unknown one), so only `custom.<key>` reaches into a value. Raises
    `jinja2.TemplateSyntaxError` when `source` is not a valid template.
    """
    ast = _TEXT.parse(source)
    _TEXT.compile(ast)  # unknown filters and tests are found only when compiling
    undeclared = meta.find_undeclared_variables(ast)
    return {
        _token(name, parent)
        for name, parent in _names(ast, None)
        if name.ctx == "load" and name.name in undeclared
    }


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
    """`source` filled in; a token without a value renders as empty text.

    Raises `jinja2.TemplateError` when the template is invalid or breaks the sandbox.
    """
    context = {token: personalization.values.get(token) or "" for token in KNOWN_TOKENS}
    blanks = dict.fromkeys(_custom_keys_of(source), "")
    given = {key: "" if value is None else value for key, value in personalization.custom.items()}
    return _compiled(source, html).render(context, custom=blanks | given)


@lru_cache(maxsize=512)
def tokens_of(source: str) -> frozenset[str]:
    """`find_tokens`, remembered: senders render the same few templates over and over."""
    return frozenset(find_tokens(source))


def _custom_keys_of(source: str) -> set[str]:
    return custom_keys(tokens_of(source))


@lru_cache(maxsize=512)
def _compiled(source: str, html: bool) -> Template:
    # Compiling costs far more than rendering, and a campaign renders one template many times.
    return (_HTML if html else _TEXT).from_string(source)


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
