"""Typed application state (aiohttp AppKey)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from common.clock import Clock
from schedule_api.metrics import Metrics
from schedule_api.service.context import Context
from schedule_api.service.feed import FeedPages
from schedule_api.settings import ScheduleSettings

SETTINGS = web.AppKey("settings", ScheduleSettings)
CLOCK = web.AppKey("clock", Clock)
METRICS = web.AppKey("metrics", Metrics)
CONTEXT = web.AppKey("context", Context)
"""What the service operations work with (set when the app starts)."""
FEED = web.AppKey("feed", FeedPages)
JOBS = web.AppKey("jobs", set["asyncio.Task[None]"])
"""Bulk ingest jobs running in this process."""
