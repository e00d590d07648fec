"""Field types every request body shares."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", examples=["news-24"])]
Resolution = Annotated[
    str, Field(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$", examples=["1280x720"])
]
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s/]+\S*$", max_length=2048)]
_ZONES = available_timezones()


def _zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError("not an IANA time zone, e.g. Europe/Stockholm")
    ZoneInfo(value)
    return value


TimeZone = Annotated[str, AfterValidator(_zone), Field(examples=["Europe/Stockholm"])]
Tag = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", examples=["kids"])]


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")
