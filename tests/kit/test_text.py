"""One-line text: exactly the control characters and line separators are refused."""

import pytest

from outreach.kit.text import control_character

FORBIDDEN = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0), 0x2028, 0x2029]


@pytest.mark.parametrize("code_point", FORBIDDEN, ids=lambda c: f"U+{c:04X}")
def test_control_characters_and_line_separators_are_found(code_point: int) -> None:
    assert control_character(f"Ada{chr(code_point)}Lovelace") == f"U+{code_point:04X}"


@pytest.mark.parametrize(
    "text", ["Ada Lovelace", "Zoë Ñúñez", "山田 太郎", "O'Brien-Smith, Jr.", "\u00a0nbsp", "🙂", ""]
)
def test_ordinary_text_passes(text: str) -> None:
    assert control_character(text) is None
