"""One-line text: what goes into a mail header, an SMS sender or a personalization token.

A line break there injects a header of its own (`Bcc:`), and other control characters or
Unicode's line separators break the headers, logs and jobs that read the text later, so such
text is refused at the door, in every schema, under one code.
"""

import re
from typing import TypeVar

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

CONTROL_CHARACTERS = "TEXT_CONTROL_CHARACTERS"
# C0 (tab, LF and CR among them), DEL, C1 (NEL among them), line and paragraph separators
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

T = TypeVar("T")


def control_character(text: str) -> str | None:
    """The first forbidden character of the text, as U+XXXX; None when there is none."""
    found = _FORBIDDEN.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def control_characters_problem(text: str) -> str | None:
    """Why the text cannot stand on one line; None when it can."""
    character = control_character(text)
    if character is None:
        return None
    return f"Line breaks and other control characters are not allowed here (found {character})"


def refuse_control_characters(value: T) -> T:
    """Any value passes but a string with a forbidden character (other types are left to the
    field's own type), so it can run before any other validator of the field."""
    problem = control_characters_problem(value) if isinstance(value, str) else None
    if problem is not None:
        raise PydanticCustomError(CONTROL_CHARACTERS, problem)
    return value


# Metadata for a field's type, placed last (`Annotated[str, StringConstraints(...), OneLine]`):
# it runs before the type's own validation, so the refusal carries this code whatever the type
# would say, and the constraints stay on the string, where their errors keep their own codes.
OneLine = BeforeValidator(refuse_control_characters)
