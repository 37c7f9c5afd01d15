"""Shared input types: record ids and short labels."""

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints

# CRM ids travel in URL paths, so no slashes, spaces or URL syntax; everything CRMs actually use fits.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@+\-]*$"
RecordId = Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=ID_PATTERN)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
# An exact decimal that is a JSON number on the wire (Pydantic would emit a string; ENGINEERING.md pitfall 3).
Number = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class StrictIn(BaseModel):
    """Base of every input body: unknown fields are a 422 (a typo should not be silently dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RecordIn(StrictIn):
    """A record body for `PUT /{id}`: `id` may be repeated in the body but must equal the path."""

    id: RecordId | None = Field(None, description="Optional; when present it must equal the id in the path.")
