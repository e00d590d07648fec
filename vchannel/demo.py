"""The demo channel `vchannel up` (and docker-compose's `demo` service) create through the
schedule REST API: the sample assets, a channel, and programs back to back for the next day
with one slate gap near the start. Run again, it only adds what is missing."""

from __future__ import annotations

from typing import Any

import aiohttp

DEMO_CHANNEL = "demo"
DEMO_ASSETS = {
    "slate-ts": "Be right back",
    "ts-alpha": "Program A",
    "ts-bravo": "Program B",
    "ts-charlie": "Program C",
}
PROGRAMS = ("ts-alpha", "ts-bravo", "ts-charlie")
AHEAD_S = 25 * 3600
"""The schedule always reaches at least this far ahead after a run (more than 24 h)."""
FIRST_START_S = 20
"""Seconds from now to the first new program: past the lock horizon (10 s + 2.5 s)."""
GAP_AFTER, GAP_S = 3, 30
"""A new channel gets one slate gap of GAP_S seconds after its GAP_AFTER-th program."""
BATCH = 1000


class DemoError(Exception):
    pass


async def _call(
    session: aiohttp.ClientSession, method: str, url: str, expect: int, body: Any = None
) -> Any:
    async with session.request(method, url, json=body) as response:
        if response.status != expect:
            raise DemoError(f"{method} {url}: HTTP {response.status}: {await response.text()}")
        return await response.json() if response.status != 204 else None


async def _exists(session: aiohttp.ClientSession, url: str) -> bool:
    async with session.get(url) as response:
        if response.status not in (200, 404):
            raise DemoError(f"GET {url}: HTTP {response.status}")
        return response.status == 200


async def ensure_demo(api: str, media_base: str, now_ms: int) -> int:
    """Make sure the demo channel exists and is scheduled AHEAD_S ahead; returns how many
    events it added."""
    api = api.rstrip("/")
    async with aiohttp.ClientSession() as session:
        for asset_id, title in DEMO_ASSETS.items():
            if not await _exists(session, f"{api}/assets/{asset_id}"):
                url = f"{media_base.rstrip('/')}/{asset_id}/master.m3u8"
                body = {"id": asset_id, "title": title, "url": url}
                await _call(session, "POST", f"{api}/assets", 201, body)
        lengths = {
            asset_id: (await _call(session, "GET", f"{api}/assets/{asset_id}", 200))["duration_ms"]
            for asset_id in PROGRAMS
        }
        created = not await _exists(session, f"{api}/channels/{DEMO_CHANNEL}")
        if created:
            body = {"id": DEMO_CHANNEL, "name": "vchannel demo", "slate": "slate-ts"}
            await _call(session, "POST", f"{api}/channels", 201, body)
        listed = await _call(
            session,
            "GET",
            f"{api}/channels/{DEMO_CHANNEL}/events?start={now_ms}&limit=5000",
            200,
        )
        start = now_ms + FIRST_START_S * 1000
        if listed["items"]:
            start = max(start, max(event["end_ms"] for event in listed["items"]))
        events: list[dict[str, Any]] = []
        number = 0
        while start < now_ms + AHEAD_S * 1000:
            asset_id = PROGRAMS[number % len(PROGRAMS)]
            events.append({"asset": asset_id, "start_ms": start})
            start += lengths[asset_id]
            number += 1
            if created and number == GAP_AFTER:
                start += GAP_S * 1000
        for first in range(0, len(events), BATCH):
            batch = {"events": events[first : first + BATCH]}
            await _call(session, "POST", f"{api}/channels/{DEMO_CHANNEL}/event-batches", 201, batch)
    return len(events)
