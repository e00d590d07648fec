"""Field types every request body shares."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, available_timezones

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from common.instants import RANGE_TEXT, in_range, to_us
from common.text import check_line, check_text

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", examples=["news-24"])]
Resolution = Annotated[
    str, Field(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$", examples=["1280x720"])
]
HttpUrl = Annotated[
    str, Field(pattern=r'^https?://[^\s/"<>\x00-\x1f\x7f]+[^\s"<>\x00-\x1f\x7f]*$', max_length=2048)
]
"""An http(s) URL: no white space, control character, quote or angle bracket (it goes into
M3U and XML attributes)."""
Text = Annotated[str, AfterValidator(check_text)]
"""Free text (names, titles, descriptions): XML 1.0 legal, so no NUL and no control character
but tab and line breaks (common/text.py)."""
Line = Annotated[str, AfterValidator(check_line)]
"""One-line text (a channel name, a group): printable, no control character
(common/text.py)."""
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


def _in_range(value: datetime) -> datetime:
    if not in_range(to_us(value)):
        raise ValueError(f"must be {RANGE_TEXT}")
    return value


Instant = Annotated[
    AwareDatetime, AfterValidator(_in_range), Field(examples=["2026-11-23T18:00:00Z"])
]
"""An RFC 3339 instant with a zone, within the range the services take
(common/instants.py)."""
