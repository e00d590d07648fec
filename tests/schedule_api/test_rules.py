"""Rules on SQLite and PostgreSQL: the REST API, materialisation by the scheduler job, hand-made
events winning, two materialisers at once, a week of loop, and slots across a DST change."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.exc import IntegrityError

from common.instants import format_date
from schedule_api.app import create_app
from schedule_api.domain.guide import AiringKind, airings
from schedule_api.http.keys import CONTEXT
from schedule_api.service import rules as service_rules
from schedule_api.service.jobs import materialise_rules
from schedule_api.service.rules import materialise
from schedule_api.store import Store, db
from schedule_api.store.db import create_engine
from tests.schedule_api.conftest import (
    advance,
    fixed_clock,
    ingest,
    make_settings,
    now_us,
    set_now,
)

S = 1_000_000
HOUR = 3600 * S


async def _channel(api: TestClient, origin: str, zone: str = "UTC") -> None:
    await ingest(api, origin, "slate-ts", "slate")
    for asset in ("ts-alpha", "ts-bravo", "ts-charlie"):
        await ingest(api, origin, asset, asset)
    body = {"id": "news", "name": "News", "slate": "slate", "time_zone": zone}
    response = await api.post("/channels", json=body)
    assert response.status == 201, await response.text()


async def _rule(api: TestClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/channels/news/rules", json=body)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


LOOP = {"kind": "loop", "play": {"assets": ["ts-alpha", "ts-bravo", "ts-charlie"]}}


async def _events(api: TestClient, hours: float = 24 * 30) -> list[dict[str, Any]]:
    start = format_date(now_us(api) - 24 * HOUR)
    end = format_date(now_us(api) + round(hours * HOUR))
    response = await api.get(
        "/channels/news/events", params={"start": start, "end": end, "limit": "5000"}
    )
    assert response.status == 200, await response.text()
    return (await response.json())["items"]  # type: ignore[no-any-return]


async def _problem(response: Any, status: int, field: str) -> None:
    assert response.status == status, await response.text()
    assert (await response.json())["invalid-params"][0]["name"] == field


async def test_a_loop_rule_fills_its_horizon_when_created(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    created = await _rule(api, **LOOP, horizon_hours=2)
    events = await _events(api)
    assert created["created"] == len(events)
    assert events[-1]["end_ms"] * 1000 >= now_us(api) + 2 * HOUR


async def test_rule_events_follow_each_other_without_a_gap(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _rule(api, **LOOP, horizon_hours=1)
    events = await _events(api)
    assert all(a["end_ms"] == b["start_ms"] for a, b in itertools.pairwise(events))


async def test_rule_events_name_their_rule(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    rule = (await _rule(api, **LOOP, id="round", horizon_hours=1))["rule"]
    assert {e["rule"] for e in await _events(api)} == {rule["id"]}


async def test_an_unknown_asset_in_a_rule_is_a_422_naming_it(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    body = {"kind": "loop", "play": {"assets": ["ts-alpha", "nope"]}}
    await _problem(await api.post("/channels/news/rules", json=body), 422, "play.assets.1")


async def test_a_tag_that_no_asset_has_is_a_422(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    body = {"kind": "shuffle", "play": {"tag": "nobody"}}
    await _problem(await api.post("/channels/news/rules", json=body), 422, "play.tag")


async def test_a_slots_rule_without_slots_is_a_422(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _problem(await api.post("/channels/news/rules", json={"kind": "slots"}), 422, "body")


async def test_a_shuffle_plays_the_assets_with_its_tag(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    for asset in ("ts-alpha", "ts-charlie"):
        response = await api.patch(f"/assets/{asset}", json={"tags": ["kids"]})
        assert response.status == 200, await response.text()
    await _rule(api, kind="shuffle", play={"tag": "kids"}, seed=7, horizon_hours=1)
    assert {e["asset"] for e in await _events(api)} == {"ts-alpha", "ts-charlie"}


async def test_a_preview_creates_nothing(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    response = await api.post("/channels/news/rule-previews", json={**LOOP, "horizon_hours": 1})
    assert response.status == 200, await response.text()
    preview = await response.json()
    assert (preview["created"] > 100, await _events(api)) == (True, [])


async def test_a_preview_shows_what_creating_the_rule_makes(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    body = {**LOOP, "horizon_hours": 1}
    preview = await (await api.post("/channels/news/rule-previews", json=body)).json()
    created = await _rule(api, **body)
    assert [(e["asset"], e["start"]) for e in preview["events"]] == [
        (e["asset"], e["start"]) for e in created["events"]
    ]


async def test_the_scheduler_job_tops_the_rule_up_as_time_passes(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    await _rule(api, **LOOP, horizon_hours=1)
    advance(api, 1800)
    assert api.app is not None
    assert await materialise_rules(api.app[CONTEXT]) > 0
    assert (await _events(api))[-1]["end_ms"] * 1000 >= now_us(api) + HOUR


async def test_running_the_job_twice_creates_nothing_twice(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    await _rule(api, **LOOP, horizon_hours=1)
    assert api.app is not None
    advance(api, 600)
    await materialise_rules(api.app[CONTEXT])
    assert await materialise_rules(api.app[CONTEXT]) == 0


async def test_a_hand_made_event_replaces_rule_events_without_asking(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    await _rule(api, **LOOP, horizon_hours=1)
    start = format_date(now_us(api) + 600 * S)
    response = await api.post("/channels/news/events", json={"asset": "ts-bravo", "start": start})
    assert response.status == 201, await response.text()
    events = await _events(api)
    overlapping = [e for e in events if e["start"] < start < e["end"] or e["start"] == start]
    assert [e["rule"] for e in overlapping] == [None]


async def test_rules_fill_around_hand_made_events(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    start = format_date(now_us(api) + 600 * S)
    response = await api.post("/channels/news/events", json={"asset": "ts-bravo", "start": start})
    assert response.status == 201
    await _rule(api, **LOOP, horizon_hours=1)
    events = await _events(api)
    assert all(a["end_ms"] <= b["start_ms"] for a, b in itertools.pairwise(events))


async def test_deleting_a_rule_removes_only_its_editable_events(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    await _rule(api, **LOOP, id="round", horizon_hours=1)
    advance(api, 120)
    response = await api.delete("/channels/news/rules/round")
    assert response.status == 204
    remaining = await _events(api)
    assert remaining
    assert all(e["start_ms"] * 1000 < now_us(api) + 30 * S for e in remaining)


async def test_a_rule_can_be_read_back_with_its_progress(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    created = await _rule(api, **LOOP, id="round", horizon_hours=1)
    response = await api.get("/channels/news/rules/round")
    rule = await response.json()
    assert (rule["items_placed"], rule["kind"]) == (created["created"], "loop")


async def test_two_materialisers_at_once_create_each_event_exactly_once(
    api: TestClient, origin: str, database_url: str
) -> None:
    await _channel(api, origin)
    await _rule(api, **LOOP, id="round", horizon_hours=2)
    engines = [create_engine(database_url), create_engine(database_url)]
    stores = [Store(engine) for engine in engines]
    try:
        for _ in range(6):
            advance(api, 900)
            await asyncio.gather(
                *(
                    materialise(s, "news", "round", now_us=now_us(api), margin_us=10 * S)
                    for s in stores
                )
            )
    finally:
        for engine in engines:
            await engine.dispose()
    events = await _events(api)
    keys = Counter(e["id"] for e in events)
    assert max(keys.values()) == 1
    assert all(a["end_ms"] == b["start_ms"] for a, b in itertools.pairwise(events))
    assert events[-1]["end_ms"] * 1000 >= now_us(api) + 2 * HOUR


async def test_the_database_refuses_a_second_event_for_one_occurrence(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    await _rule(api, **LOOP, id="round", horizon_hours=1)
    assert api.app is not None
    e = db.events.c
    async with api.app[CONTEXT].store.engine.connect() as connection:
        row = (await connection.execute(db.events.select().where(e.rule_id == "round"))).first()
    assert row is not None
    copy = {**row._asdict(), "id": "ev-copy", "start_us": row.start_us + 10 * HOUR}
    with pytest.raises(IntegrityError):
        async with api.app[CONTEXT].store.engine.begin() as connection:
            await connection.execute(db.events.insert().values(**copy))


async def test_a_loop_channel_plays_a_simulated_week_without_slate(
    api: TestClient, origin: str
) -> None:
    await _channel(api, origin)
    rule = (await _rule(api, **LOOP, horizon_hours=48))["rule"]
    assert api.app is not None
    start = int(datetime.fromisoformat(rule["start"]).timestamp() * S)
    for _ in range(7 * 24):
        advance(api, 3600)
        await materialise_rules(api.app[CONTEXT])
    timeline = await api.app[CONTEXT].timelines.of("news")
    aired = airings(timeline, start, start + 7 * 24 * HOUR)
    assert aired[0].kind is AiringKind.PROGRAM
    assert {a.kind for a in aired} == {AiringKind.PROGRAM}
    assert all(a.end_us == b.start_us for a, b in itertools.pairwise(aired))
    assert aired[-1].end_us is not None
    assert aired[-1].end_us >= start + 7 * 24 * HOUR


async def test_slots_start_within_a_segment_of_their_time_across_dst(
    api: TestClient, origin: str
) -> None:
    zone = ZoneInfo("Europe/Stockholm")
    assert api.app is not None
    set_now(api, int(datetime(2027, 3, 26, 12, tzinfo=UTC).timestamp()) * S)
    await _channel(api, origin, "Europe/Stockholm")
    slot = {"at": "20:00", "play": {"assets": ["ts-alpha", "ts-bravo"]}}
    await _rule(
        api, kind="slots", slots=[slot], filler={"assets": ["ts-charlie"]}, horizon_hours=96
    )
    timeline = await api.app[CONTEXT].timelines.of("news")
    starts = [
        a.start_us
        for a in airings(timeline, timeline.start_us, timeline.start_us + 96 * HOUR)
        if a.asset.id in ("ts-alpha", "ts-bravo")
    ]
    local = [datetime.fromtimestamp(t / S, zone) for t in starts]
    wanted = [t.replace(hour=20, minute=0, second=0, microsecond=0) for t in local]
    offsets = [(t.day, int(t.utcoffset().total_seconds()) // 3600) for t in local]  # type: ignore[union-attr]
    assert offsets == [(26, 1), (27, 1), (28, 2), (29, 2)]
    assert all(abs((t - w).total_seconds()) <= 2 for t, w in zip(local, wanted, strict=True))


async def _filled(
    api: TestClient, origin: str, monkeypatch: pytest.MonkeyPatch, step_h: int
) -> Any:
    monkeypatch.setattr(service_rules, "MATERIALISE_STEP_US", step_h * HOUR)
    await _channel(api, origin)
    await _rule(api, **LOOP, id="round", horizon_hours=12)
    return [(e["asset"], e["start_ms"], e["end_ms"]) for e in await _events(api)]


async def test_a_rule_filled_in_steps_places_what_one_pass_places(
    tmp_path: Path, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    placed = []
    for step_h in (1, 1000):
        settings = make_settings(f"sqlite:///{tmp_path}/steps-{step_h}.db")
        async with TestClient(TestServer(create_app(settings, clock=fixed_clock()))) as api:
            placed.append(await _filled(api, origin, monkeypatch, step_h))
    assert placed[0] == placed[1]


async def test_other_writes_go_ahead_while_a_long_rule_fills(api: TestClient, origin: str) -> None:
    await _channel(api, origin)
    rule = {**LOOP, "play": {"assets": ["ts-alpha"]}, "horizon_hours": 48}
    filling = asyncio.ensure_future(api.post("/channels/news/rules?limit=0", json=rule))
    await asyncio.sleep(0.05)
    other = await api.post("/channels", json={"id": "other", "name": "O", "slate": "slate"})
    assert (other.status, filling.done()) == (201, False)
    assert (await filling).status == 201
