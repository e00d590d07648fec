"""Property: arbitrary Unicode in every text field (control characters, NUL, lone surrogates,
quotes, line breaks, `#EXT` lines, 10 kB strings) never makes a 5xx, every refusal is a
problem+json 4xx, and every output stays well-formed: playlists built from the feed pass the
conformance checker with the profile's variants, /epg.xml validates against the XMLTV DTD,
/channels.m3u has one entry per channel, and the as-run CSV round-trips with no cell a
spreadsheet would run. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

import m3u8
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from common.instants import format_date
from common.text import FORMULA_START
from engine.feed_format import PlanFeed
from engine.plan_format import AssetIndexModel
from engine.render import render_media_playlist, render_multivariant_playlist
from engine.timeline import compile_timeline
from engine.window import live_window
from tests.conformance import parse_media_playlist
from tests.schedule_api.conftest import advance, ingest, now_us

S = 1_000_000
XMLTV_DTD = Path("/usr/share/xmltv/xmltv.dtd")
PIECES = [
    '"',
    "'",
    "\n",
    "\r\n",
    "\x00",
    "\x01",
    "\x0b",
    "\x85",
    "\ud800",
    "\ufffe",
    "#EXT-X-ENDLIST",
    "\n#EXT-X-STREAM-INF:BANDWIDTH=1\nhttp://evil.invalid/x.m3u8\n",
    "=HYPERLINK(1)",
    "+1",
    "-1",
    "@A1",
    "<b>&amp;</b>",
    "%_\\",
    "é中🎬",
    "x" * 10_000,
]
hostile = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=40),
    st.lists(st.sampled_from(PIECES), min_size=1, max_size=5).map("".join),
)
numbers = itertools.count()


def _fine(status: int, headers: Any) -> bool:
    """2xx, or a 4xx problem document."""
    return status < 300 or (status < 500 and headers["Content-Type"] == "application/problem+json")


async def _send(api: TestClient, method: str, path: str, body: Any) -> int:
    # surrogates cannot be UTF-8: send them as JSON escapes, as a hostile client would
    raw = json.dumps(body, ensure_ascii=True).encode()
    response = await api.request(
        method, path, data=raw, headers={"Content-Type": "application/json"}
    )
    assert _fine(response.status, response.headers), (method, path, await response.text())
    return response.status


async def _library(api: TestClient, origin: str) -> None:
    if (await api.get("/assets/slate")).status == 404:
        await ingest(api, origin, "slate-ts", "slate")
        await ingest(api, origin, "ts-alpha", "alpha")


async def _write_everything(api: TestClient, texts: list[str], codecs: str) -> None:
    """One channel, one asset's guide metadata, one event and one rule, all hostile."""
    channel_id = f"c{next(numbers)}"
    profile = [{"name": "360p", "bandwidth": 365200, "resolution": "640x360", "codecs": codecs}]
    body = {"id": channel_id, "name": texts[0], "slate": "slate", "group": texts[1]}
    created = await _send(api, "POST", "/channels", {**body, "profile": profile})
    if created != 201:
        created = await _send(
            api, "POST", "/channels", {"id": channel_id, "name": "n", "slate": "slate"}
        )
    meta = {"description": texts[2], "genre": texts[3], "episode": texts[4], "rating": texts[5]}
    await _send(api, "PATCH", "/assets/alpha", meta)
    start = format_date(now_us(api) + 20 * S)
    event = {"asset": "alpha", "start": start, "title": texts[6]}
    await _send(api, "POST", f"/channels/{channel_id}/events", event)
    rule = {"id": texts[7], "kind": "loop", "play": {"assets": ["alpha"]}, "horizon_hours": 1}
    await _send(api, "POST", f"/channels/{channel_id}/rules?limit=0", rule)
    await _send(api, "PATCH", f"/channels/{channel_id}", {"name": texts[8]})
    advance(api, 180)


async def _check_playlists(api: TestClient) -> None:
    feed = PlanFeed.model_validate_json(await (await api.get("/plans?since=0")).read())
    keys = "&".join(
        f"key={a}@{v}" for a, v in {k for p in feed.plans for k in p.to_core().asset_keys()}
    )
    batch = json.loads(await (await api.get(f"/asset-indexes?{keys}")).read())
    assets = {
        m.to_core().key: m.to_core() for m in map(AssetIndexModel.model_validate, batch["assets"])
    }
    for model in feed.plans:
        timeline = compile_timeline(model.to_core(), assets)
        master = render_multivariant_playlist(timeline, lambda name: f"{name}.m3u8").decode()
        assert len(m3u8.loads(master).playlists) == len(model.channel.profile)
        window = live_window(timeline, now_us(api))
        media = parse_media_playlist(render_media_playlist(timeline, window, 0).decode())
        assert media.violations == []


async def _check_guide(api: TestClient, dtd: etree.DTD) -> None:
    document = etree.fromstring(await (await api.get("/epg.xml?filler=true")).read())
    assert dtd.validate(document), dtd.error_log.filter_from_errors()
    channels = await (await api.get("/channels")).json()
    m3u = (await (await api.get("/channels.m3u")).text()).splitlines()
    assert sum(line.startswith("#EXTINF") for line in m3u) == len(channels["items"])
    for channel in channels["items"]:
        day = format_date(now_us(api))[:10]
        path = f"/channels/{channel['id']}/as-run?date={day}"
        aired = await (await api.get(path)).json()
        rows = list(csv.reader(io.StringIO(await (await api.get(path + "&format=csv")).text())))
        assert len(rows) == 1 + len(aired["items"])
        assert [c for row in rows for c in row if c.startswith(FORMULA_START)] == []


@pytest.fixture(scope="module")
def dtd() -> etree.DTD:
    if not XMLTV_DTD.exists():
        pytest.fail("xmltv.dtd is missing: the README's test command installs xmltv-util")
    return etree.DTD(str(XMLTV_DTD))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    texts=st.lists(hostile, min_size=9, max_size=9),
    codecs=st.one_of(st.just("avc1.4d401e,mp4a.40.2"), hostile),
)
async def test_no_text_breaks_the_api_or_an_output(
    api: TestClient, origin: str, dtd: etree.DTD, texts: list[str], codecs: str
) -> None:
    await _library(api, origin)
    await _write_everything(api, texts, codecs)
    await _check_playlists(api)
    await _check_guide(api, dtd)
