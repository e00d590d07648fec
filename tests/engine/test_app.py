"""The engine's HTTP surface, with a manual clock (no real time passes)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from common import memory as engine_memory
from common.clock import ManualClock
from common.instants import to_us
from engine.app import create_app, load_timelines
from engine.channels import Channels
from engine.model import US_PER_S
from engine.render import render_media_playlist
from engine.settings import EngineSettings
from engine.window import live_window
from tests.conformance import (
    check_freshness,
    check_reload,
    check_variants,
    parse_media_playlist,
)
from vchannel.cli import main
from vchannel.samples import CHECKPOINT, PLANS_DIR

NOW = to_us(CHECKPOINT) + 86_400 * US_PER_S + 1_234_567
MEDIA = "/live/360p.m3u8?channel=sample-ts"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
async def client(aiohttp_client: Any, clock: ManualClock) -> TestClient:
    app = create_app(EngineSettings(), timelines=load_timelines(PLANS_DIR), clock=clock)
    return await aiohttp_client(app)  # type: ignore[no-any-return]


async def test_media_playlist_is_served_with_the_exact_content_type(client: TestClient) -> None:
    response = await client.get(MEDIA)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert (await response.text()).startswith("#EXTM3U\n")


async def test_if_none_match_answers_304(client: TestClient) -> None:
    first = await client.get(MEDIA)
    again = await client.get(MEDIA, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status == 304
    assert again.headers["ETag"] == first.headers["ETag"]


async def test_if_none_match_star_answers_304(client: TestClient) -> None:
    assert (await client.get(MEDIA, headers={"If-None-Match": "*"})).status == 304


async def test_if_none_match_finds_our_tag_in_a_spaced_list(client: TestClient) -> None:
    first = await client.get(MEDIA)
    listed = f'"other", {first.headers["ETag"]}'
    assert (await client.get(MEDIA, headers={"If-None-Match": listed})).status == 304


async def test_playlists_allow_cross_origin_players(client: TestClient) -> None:
    response = await client.get(MEDIA)
    assert response.headers["Access-Control-Allow-Origin"] == "*"


async def test_path_and_query_forms_serve_the_same_playlist(client: TestClient) -> None:
    by_query = await (await client.get(MEDIA)).read()
    by_path = await (await client.get("/channels/sample-ts/360p.m3u8")).read()
    assert by_query == by_path


async def test_multivariant_playlist_keeps_the_channel_query(client: TestClient) -> None:
    text = await (await client.get("/live/master.m3u8?channel=sample-ts")).text()
    assert "360p.m3u8?channel=sample-ts" in text.splitlines()


async def test_path_form_multivariant_uses_relative_paths(client: TestClient) -> None:
    text = await (await client.get("/channels/sample-cmaf/master.m3u8")).text()
    assert "180p.m3u8" in text.splitlines()


async def _problem(client: TestClient, path: str, status: int) -> dict[str, Any]:
    response = await client.get(path)
    assert response.status == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    return json.loads(await response.text())  # type: ignore[no-any-return]


async def test_unknown_channel_is_a_404_problem(client: TestClient) -> None:
    problem = await _problem(client, "/live/360p.m3u8?channel=nope", 404)
    assert "'nope'" in problem["detail"]


async def test_unknown_variant_is_a_404_problem(client: TestClient) -> None:
    problem = await _problem(client, "/live/4k.m3u8?channel=sample-ts", 404)
    assert "no variant or track '4k'" in problem["detail"]


async def test_malformed_channel_is_a_400_naming_the_parameter(client: TestClient) -> None:
    problem = await _problem(client, "/live/master.m3u8?channel=..%2Fetc", 400)
    assert problem["invalid-params"][0]["name"] == "channel"
    assert "not a channel id" in problem["invalid-params"][0]["reason"]


async def test_missing_channel_is_a_400_naming_the_parameter(client: TestClient) -> None:
    problem = await _problem(client, "/live/master.m3u8", 400)
    assert problem["detail"].startswith("channel:")


async def test_wrong_method_is_a_405_problem_with_allow(client: TestClient) -> None:
    response = await client.post(MEDIA)
    assert response.status == 405
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "GET" in response.headers["Allow"]


async def test_unknown_route_is_a_404_problem(client: TestClient) -> None:
    await _problem(client, "/nothing-here", 404)


async def test_before_the_first_full_window_the_channel_is_not_on_air(
    client: TestClient, clock: ManualClock
) -> None:
    clock.instant_us = to_us(CHECKPOINT) + 5 * US_PER_S
    response = await client.get(MEDIA)
    assert response.status == 503
    assert response.headers["Retry-After"] == "19"
    assert response.headers["Cache-Control"] == "no-store"


async def test_health_reports_the_channel_count(client: TestClient) -> None:
    response = await client.get("/health")
    assert json.loads(await response.text()) == {
        "status": "ok",
        "channels": 3,
        "worker": os.getpid(),
    }


async def test_metrics_count_render_cache_hits(client: TestClient) -> None:
    await client.get(MEDIA)
    await client.get(MEDIA)
    text = await (await client.get("/metrics")).text()
    assert 'vchannel_engine_render_cache_total{result="hit"} 1.0' in text
    assert 'vchannel_engine_render_cache_total{result="miss"} 1.0' in text
    assert "vchannel_engine_channels 3.0" in text


async def test_a_simulated_hour_conforms_across_reloads_and_variants(
    client: TestClient, clock: ManualClock
) -> None:
    previous: dict[str, Any] = {}
    violations: list[str] = []
    for step in range(3600 // 3):
        current = {}
        for variant in ("360p", "270p", "180p"):
            for channel in ("sample-ts", "sample-cmaf"):
                url = f"/live/{variant}.m3u8?channel={channel}"
                parsed = parse_media_playlist(await (await client.get(url)).text(), url)
                violations.extend(parsed.violations)
                if url in previous:
                    violations.extend(check_reload(previous[url], parsed, url))
                current[url] = parsed
        for channel in ("sample-ts", "sample-cmaf"):
            violations.extend(check_variants({u: p for u, p in current.items() if channel in u}))
        previous = current
        clock.advance(3 * US_PER_S + (step % 7) * 97_000)
    assert violations == []


def test_engine_refuses_to_start_on_a_bad_plan_and_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "broken.json").write_text('{"channel": {}}')
    assert main(["engine", "--plans", str(tmp_path), "--port", "0"], environ={}) == 2
    error = capsys.readouterr().err
    assert "broken.json" in error
    assert "channel.id" in error


def test_engine_refuses_a_bad_setting_and_names_the_variable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["engine"], environ={"CLOCK_SPEED": "fast"}) == 2
    assert "CLOCK_SPEED='fast'" in capsys.readouterr().err


def test_memoised_rendering_matches_a_fresh_rendering_over_an_hour() -> None:
    timelines = load_timelines(PLANS_DIR)
    channels = Channels(timelines)
    now = NOW
    for _ in range(1800):
        for variant, index in (("360p", 0), ("180p", 2)):
            served = channels.media_playlist("sample-cmaf", variant, now).rendered.body
            timeline = timelines["sample-cmaf"]
            assert served == render_media_playlist(timeline, live_window(timeline, now), index)
        now += 2_000_000 + 37_000


async def test_a_playlist_never_lags_more_than_one_and_a_half_target_durations(
    client: TestClient, clock: ManualClock
) -> None:
    for _ in range(200):
        requested = datetime.fromtimestamp(clock.instant_us / US_PER_S, UTC)
        parsed = parse_media_playlist(await (await client.get(MEDIA)).text())
        assert check_freshness(parsed, requested) == []
        clock.advance(137_000)


def test_freshness_flags_a_stale_playlist() -> None:
    timeline = load_timelines(PLANS_DIR)["sample-ts"]  # a real playlist, judged 10 s late
    body = render_media_playlist(timeline, live_window(timeline, NOW), 0).decode()
    late = datetime.fromtimestamp(NOW / US_PER_S + 10, UTC)
    assert check_freshness(parse_media_playlist(body), late) != []


def test_the_engine_command_imports_no_schedule_service_or_aws_code() -> None:
    """An engine process stays small: the vchannel command imports the schedule service,
    SQLAlchemy, troposphere and boto3 only for the commands that use them."""
    code = (
        "import sys, vchannel.cli; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'schedule_api', 'sqlalchemy', 'alembic', 'troposphere', 'boto3', 'cloudformation'}))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"


async def test_an_engine_process_collects_and_freezes_its_objects_periodically(
    aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_memory, "FULL_COLLECTION_INTERVAL_S", 0.01)
    gc.unfreeze()
    try:
        await aiohttp_client(create_app(EngineSettings(), manage_memory=True))
        await asyncio.sleep(0.2)
        frozen = gc.get_freeze_count()
    finally:
        gc.unfreeze()  # the other tests share this interpreter
    assert frozen > 0
