"""The demo channels `vchannel up` (and docker-compose's `demo` service) create through the
schedule REST API: the sample assets; `demo` with three opening programs, a slate gap, and a
loop rule that keeps the channel filled a day ahead; `demo-multi` with English and French
audio and subtitles and an ad break after every program, filled by a loop rule. Run again,
it only adds what is missing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import aiohttp

from vchannel.samples import TRACKS

DEMO_CHANNEL = "demo"
DEMO_ASSETS = {
    "slate-ts": "Be right back",
    "ts-alpha": "Program A",
    "ts-bravo": "Program B",
    "ts-charlie": "Program C",
}
PROGRAMS = ("ts-alpha", "ts-bravo", "ts-charlie")
DEMO_RULE = "demo-loop"
MULTI_CHANNEL = "demo-multi"
MULTI_ASSETS = {
    "slate-multi": "Be right back",
    "multi-echo": "Program E",
    "multi-foxtrot": "Program F",
}
MULTI_RULE = "demo-multi-loop"
MULTI_BREAK_S = 8
"""demo-multi's break rule: this long a break (the slate, marked with SCTE-35) after every
program."""
HORIZON_HOURS = 24
"""The loop rule keeps the schedule filled this far ahead (the service tops it up)."""
FIRST_START_S = 20
"""Seconds from now to the first program: past the lock horizon (10 s + 2.5 s)."""
GAP_S = 30
"""The opening programs (one of each) are followed by a slate gap of GAP_S seconds; the loop
rule starts after it."""


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
    """Make sure the demo channel exists and is filled: three opening programs, a slate gap,
    then a loop rule the schedule service keeps topped up. Returns the events it added."""
    api = api.rstrip("/")
    channel = f"{api}/channels/{DEMO_CHANNEL}"
    async with aiohttp.ClientSession() as session:
        for asset_id, title in {**DEMO_ASSETS, **MULTI_ASSETS}.items():
            if not await _exists(session, f"{api}/assets/{asset_id}"):
                url = f"{media_base.rstrip('/')}/{asset_id}/master.m3u8"
                body = {"id": asset_id, "title": title, "url": url}
                await _call(session, "POST", f"{api}/assets", 201, body)
        added = await _ensure_multi(session, api, now_ms)
        if await _exists(session, f"{channel}/rules/{DEMO_RULE}"):
            return added
        if not await _exists(session, channel):
            body = {"id": DEMO_CHANNEL, "name": "vchannel demo", "slate": "slate-ts"}
            await _call(session, "POST", f"{api}/channels", 201, body)
        start = now_ms + FIRST_START_S * 1000
        opening = []
        for asset_id in PROGRAMS:
            opening.append({"asset": asset_id, "start_ms": start})
            start += (await _call(session, "GET", f"{api}/assets/{asset_id}", 200))["duration_ms"]
        await _call(session, "POST", f"{channel}/event-batches", 201, {"events": opening})
        rule = {
            "id": DEMO_RULE,
            "kind": "loop",
            "start": _rfc3339(start + GAP_S * 1000),
            "play": {"assets": list(PROGRAMS)},
            "horizon_hours": HORIZON_HOURS,
        }
        made = await _call(session, "POST", f"{channel}/rules?limit=0", 201, rule)
    return added + len(opening) + int(made["created"])


async def _ensure_multi(session: aiohttp.ClientSession, api: str, now_ms: int) -> int:
    """demo-multi: its channel and loop rule, unless there; the events the rule made."""
    channel = f"{api}/channels/{MULTI_CHANNEL}"
    if await _exists(session, f"{channel}/rules/{MULTI_RULE}"):
        return 0
    if not await _exists(session, channel):
        body = {
            "id": MULTI_CHANNEL,
            "name": "vchannel demo in two languages",
            "slate": "slate-multi",
            **TRACKS,
            "ad_markers": {"cue_tags": True},
            "break_rule": {"duration_seconds": MULTI_BREAK_S, "after_programs": True},
        }
        await _call(session, "POST", f"{api}/channels", 201, body)
    rule = {
        "id": MULTI_RULE,
        "kind": "loop",
        "start": _rfc3339(now_ms + FIRST_START_S * 1000),
        "play": {"assets": ["multi-echo", "multi-foxtrot"]},
        "horizon_hours": HORIZON_HOURS,
    }
    made = await _call(session, "POST", f"{channel}/rules?limit=0", 201, rule)
    return int(made["created"])


def _rfc3339(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
