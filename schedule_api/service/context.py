"""What every service operation works with, built once per application."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp

from common.clock import Clock
from common.instants import US_PER_S
from schedule_api.metrics import Metrics
from schedule_api.service.plans import Timelines
from schedule_api.settings import ScheduleSettings
from schedule_api.store import Store


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    timelines: Timelines
    settings: ScheduleSettings
    metrics: Metrics
    clock: Clock
    session: aiohttp.ClientSession
    """For fetching upstream playlists (schedule_api/ingest.py)."""

    @property
    def margin_us(self) -> int:
        """The lock margin: how far ahead of now the schedule is fixed."""
        return self.settings.lock_margin_seconds * US_PER_S
