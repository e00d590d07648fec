"""The guide on SQLite and PostgreSQL: now/next, XMLTV (checked against the XMLTV DTD and by
the XMLTV project's own validator), the M3U channel list and the as-run log."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from lxml import etree

from common.instants import format_date
from schedule_api.domain.guide import xmltv_time
from tests.schedule_api.conftest import advance, ingest, now_us

S = 1_000_000
XMLTV_DTD = Path("/usr/share/xmltv/xmltv.dtd")


@pytest.fixture(scope="session")
def dtd() -> etree.DTD:
    if not XMLTV_DTD.exists():
        pytest.fail("xmltv.dtd is missing: the README's test command installs xmltv-util")
    return etree.DTD(str(XMLTV_DTD))


async def _channel(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-ts", "slate")
    for asset in ("ts-alpha", "ts-bravo"):
        await ingest(api, origin, asset, asset)
    meta = {
        "description": "Fish & chips <tonight>",
        "genre": "News",
        "episode": "S02E05",
        "rating": "TV-G",
        "artwork_url": "https://img.example/alpha.png",
    }
    assert (await api.patch("/assets/ts-alpha", json=meta)).status == 200
    body = {
        "id": "news",
        "name": 'News "24" & more',
        "slate": "slate",
        "group": "News",
        "artwork_url": "https://img.example/news.png",
    }
    assert (await api.post("/channels", json=body)).status == 201


async def _schedule(api: TestClient, *items: tuple[str, float, str]) -> None:
    """(asset, start in seconds from now, title override or '')."""
    for asset, at, title in items:
        body: dict[str, Any] = {"asset": asset, "start": format_date(now_us(api) + round(at * S))}
        if title:
            body["title"] = title
        response = await api.post("/channels/news/events", json=body)
        assert response.status == 201, await response.text()


async def _xml(api: TestClient, query: str = "") -> bytes:
    response = await api.get(f"/epg.xml{query}")
    assert response.status == 200, await response.text()
    assert response.content_type == "application/xml"
    return await response.read()


async def test_now_names_the_program_on_air_and_its_progress(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 60, ""), ("ts-bravo", 80, ""))
    advance(api, 65)
    now = await (await api.get("/channels/news/now")).json()
    assert (now["current"]["asset_id"], now["next"]["asset_id"]) == ("ts-alpha", "ts-bravo")
    assert now["progress"] == pytest.approx(5 / 20, abs=0.06)


async def test_now_shows_the_slate_between_programs(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 60, ""))
    advance(api, 40)
    now = await (await api.get("/channels/news/now")).json()
    assert (now["current"]["kind"], now["next"]["asset_id"]) == ("slate", "ts-alpha")


async def test_the_xmltv_guide_is_valid_against_the_xmltv_dtd(
    api: TestClient, origin: str, dtd: etree.DTD
) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 60, ""), ("ts-bravo", 90, 'Late <show> & "more"'))
    document = etree.fromstring(await _xml(api, "?filler=true"))
    assert dtd.validate(document), dtd.error_log.filter_from_errors()


async def test_the_xmltv_validator_of_the_xmltv_project_accepts_the_guide(
    api: TestClient, origin: str, tmp_path: Path
) -> None:
    validator = shutil.which("tv_validate_file")
    if validator is None:
        pytest.fail("tv_validate_file is missing: the README's test command installs xmltv-util")
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 60, ""), ("ts-bravo", 90, ""))
    path = tmp_path / "epg.xml"
    path.write_bytes(await _xml(api, "?filler=true"))
    result = await asyncio.to_thread(
        subprocess.run,
        [validator, "--dtd-file", str(XMLTV_DTD), str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


async def test_xmltv_programmes_start_where_the_schedule_says(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 61.3, ""), ("ts-bravo", 95, ""))
    schedule = await (await api.get("/channels/news/schedule")).json()
    wanted = [xmltv_time(item["start_time"] * 1000) for item in schedule["items"]]
    starts = [p.get("start") for p in etree.fromstring(await _xml(api)).iter("programme")]
    assert (starts, len(wanted)) == (wanted, 2)


async def test_xmltv_titles_and_descriptions_keep_their_characters(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 60, 'A <b> & "c"'))
    programme = next(etree.fromstring(await _xml(api)).iter("programme"))
    assert (programme.findtext("title"), programme.findtext("desc")) == (
        'A <b> & "c"',
        "Fish & chips <tonight>",
    )


async def test_xmltv_carries_the_episode_number_in_both_systems(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 60, ""))
    programme = next(etree.fromstring(await _xml(api)).iter("programme"))
    numbers = {e.get("system"): e.text for e in programme.iter("episode-num")}
    assert numbers == {"xmltv_ns": "1.4.", "onscreen": "S02E05"}


async def test_xmltv_lists_filler_only_when_asked(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 60, ""))
    plain = etree.fromstring(await _xml(api))
    with_filler = etree.fromstring(await _xml(api, "?filler=true"))
    assert (len(plain.findall("programme")), len(with_filler.findall("programme"))) == (1, 3)


async def test_an_unknown_channel_in_the_guide_is_a_404_naming_it(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    response = await api.get("/epg.xml?channel=news&channel=nope")
    assert response.status == 404
    assert (await response.json())["invalid-params"][0]["name"] == "channel.1"


async def test_too_many_guide_days_is_a_400_naming_days(api: TestClient, origin: str) -> None:
    response = await api.get("/epg.xml?days=15")
    assert response.status == 400
    assert (await response.json())["invalid-params"][0]["name"] == "days"


async def _m3u(api: TestClient, query: str = "") -> list[str]:
    response = await api.get(f"/channels.m3u{query}")
    assert response.status == 200, await response.text()
    return (await response.text()).splitlines()


async def test_the_m3u_list_points_at_the_playback_base(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    lines = await _m3u(api, "?base=https://cdn.example")
    assert lines[2] == "https://cdn.example/live/master.m3u8?channel=news"


async def test_m3u_tvg_ids_match_the_xmltv_channel_ids(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    lines = await _m3u(api)
    channel = next(etree.fromstring(await _xml(api)).iter("channel"))
    assert f'tvg-id="{channel.get("id")}"' in lines[1]


async def test_m3u_attributes_cannot_break_out_of_their_quotes(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    lines = await _m3u(api)
    assert 'tvg-name="News  24  & more"' in lines[1]
    assert lines[1].endswith(',News "24" & more')


async def test_an_m3u_base_that_is_not_a_url_is_a_400(api: TestClient) -> None:
    response = await api.get("/channels.m3u?base=javascript:alert(1)")
    assert response.status == 400
    assert (await response.json())["invalid-params"][0]["name"] == "base"


async def _as_run(api: TestClient, fmt: str = "json") -> Any:
    day = format_date(now_us(api))[:10]
    response = await api.get(f"/channels/news/as-run?date={day}&format={fmt}")
    assert response.status == 200, await response.text()
    return await response.json() if fmt == "json" else await response.text()


async def test_the_as_run_log_counts_the_slate_that_aired(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 30, ""), ("ts-bravo", 80, ""))
    advance(api, 120)
    log = await _as_run(api)
    kinds = [
        (i["kind"], i["asset_id"])
        for i in log["items"]
        if i["end_ms"] > now_us(api) // 1000 - 120_000
    ]
    assert kinds[:4] == [
        ("slate", "slate"),
        ("program", "ts-alpha"),
        ("slate", "slate"),
        ("program", "ts-bravo"),
    ]


async def test_the_as_run_log_sums_slate_per_hour(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 30, ""), ("ts-bravo", 80, ""))
    advance(api, 120)
    log = await _as_run(api)
    assert sum(h["slate_seconds"] for h in log["hours"]) == pytest.approx(log["slate_seconds"])
    assert log["slate_seconds"] == pytest.approx(120 - 20 - 30, abs=2.01)


async def test_the_as_run_log_stops_at_now(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 30, ""))
    advance(api, 40)
    log = await _as_run(api)
    assert log["items"][-1]["end_ms"] == now_us(api) // 1000


async def test_the_as_run_log_comes_as_csv(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _schedule(api, ("ts-alpha", 30, ""))
    advance(api, 60)
    rows = list(csv.DictReader(io.StringIO(await _as_run(api, "csv"))))
    assert [r["asset_id"] for r in rows][-3:] == ["slate", "ts-alpha", "slate"]


async def test_an_as_run_log_needs_a_date(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    response = await api.get("/channels/news/as-run")
    assert response.status == 400
    assert (await response.json())["invalid-params"][0]["name"] == "date"
