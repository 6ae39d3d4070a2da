"""Loads the provider payloads stored next to these tests."""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

PAYLOADS = Path(__file__).parent / "payloads"


@pytest.fixture
def payload() -> Callable[[str], bytes]:
    return lambda name: (PAYLOADS / name).read_bytes()


@pytest.fixture
def payload_json() -> Callable[[str], Any]:
    return lambda name: json.loads((PAYLOADS / name).read_text())
