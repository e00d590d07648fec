"""Request and response bodies (pydantic, at the HTTP boundary only), one module per
resource. Rows become these in schedule_api/views.py.

Times are given as RFC 3339 UTC strings and, where Consuo clients expect them, as Unix
milliseconds (`*_ms`).
"""

from schedule_api.models.assets import (
    Asset,
    AssetCreate,
    AssetPage,
    AssetUpdate,
    IngestItem,
    IngestJob,
    IngestJobCreate,
    RenditionSummary,
)
from schedule_api.models.channels import (
    BreakRuleModel,
    Channel,
    ChannelCreate,
    ChannelList,
    ChannelUpdate,
)
from schedule_api.models.events import (
    MAX_EVENT_MS,
    BreakRequest,
    Event,
    EventBatch,
    EventBreak,
    EventCreate,
    EventCreateOne,
    EventFields,
    EventList,
    EventUpdate,
    Schedule,
    ScheduleEntry,
)
from schedule_api.models.guide import (
    Airing,
    AsRun,
    AsRunEntry,
    AsRunHour,
    Health,
    NowNext,
    ServiceInfo,
)
from schedule_api.models.rules import (
    Collection,
    PlannedEvent,
    Rule,
    RuleCreate,
    RuleList,
    RuleRun,
    SlotSpec,
)

__all__ = [
    "MAX_EVENT_MS",
    "Airing",
    "AsRun",
    "AsRunEntry",
    "AsRunHour",
    "Asset",
    "AssetCreate",
    "AssetPage",
    "AssetUpdate",
    "BreakRequest",
    "BreakRuleModel",
    "Channel",
    "ChannelCreate",
    "ChannelList",
    "ChannelUpdate",
    "Collection",
    "Event",
    "EventBatch",
    "EventBreak",
    "EventCreate",
    "EventCreateOne",
    "EventFields",
    "EventList",
    "EventUpdate",
    "Health",
    "IngestItem",
    "IngestJob",
    "IngestJobCreate",
    "NowNext",
    "PlannedEvent",
    "RenditionSummary",
    "Rule",
    "RuleCreate",
    "RuleList",
    "RuleRun",
    "Schedule",
    "ScheduleEntry",
    "ServiceInfo",
    "SlotSpec",
]
