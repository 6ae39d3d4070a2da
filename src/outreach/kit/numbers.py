"""Number types of the API's JSON."""

from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer

# Exact inside (Decimal, two places), a JSON number outside: API.md gives percentages as
# numbers with two decimals, e.g. 15.25.
Percentage = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
