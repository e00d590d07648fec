"""The operator console in Chromium, driven as an operator would: sign in, ingest the sample
assets, create a channel, schedule three programs by dragging them onto the grid, add a loop
rule through its preview, preview a slots rule, edit an asset's guide metadata, try an edit
behind the lock horizon, read the as-run log and what the engine answers for the channel. The engine
(following the schedule service) must play the programs at the times the grid shows. Each
screen is saved as a 1280x800 screenshot and checked with axe-core."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright

from tests.e2e.conftest import REPO, free_port, require, spawn, wait_for
from tests.e2e.test_players import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e

KEY = "console-e2e-key"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SAMPLES = {"slate-ts": "Slate", "ts-alpha": "Alpha", "ts-bravo": "Bravo", "ts-charlie": "Charlie"}
"""Sample folder and the title it is ingested with."""
PROGRAMS = (("Alpha", 40), ("Bravo", 70), ("Charlie", 110))
"""Title, and seconds from the start of the drags to where it is dropped."""


@dataclass(frozen=True)
class Services:
    api: str
    engine: str
    origin: str
    screenshots: Path


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    work = tmp_path_factory.mktemp("console")
    api_port, engine_port, origin_port = free_port(), free_port(), free_port()
    api, engine = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{engine_port}"
    origin = f"http://127.0.0.1:{origin_port}"
    processes = [
        spawn(["origin", "--port", str(origin_port)], work / "origin.log"),
        spawn(
            ["schedule-api"],
            work / "schedule.log",
            {
                "HOST": "127.0.0.1",
                "PORT": str(api_port),
                "DATABASE_URL": f"sqlite:///{work}/console.db",
                "API_KEY": KEY,
                "ALLOWED_SOURCES": "127.0.0.0/8",
                "PLAYBACK_BASE_URL": engine,
            },
        ),
        spawn(
            ["engine", "--host", "127.0.0.1", "--port", str(engine_port)],
            work / "engine.log",
            {"CHANNELMGRAPI": api, "SYNC_INTERVAL_MS": "500"},
        ),
    ]
    try:
        wait_for(f"{origin}/ts-alpha/master.m3u8")
        wait_for(f"{api}/health")
        wait_for(f"{engine}/health", 60)
        shots = Path(work / "screenshots")
        shots.mkdir()
        yield Services(api, engine, origin, shots)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


@dataclass
class Journey:
    """What the operator saw, and what the services answered, along the way."""

    ingest_status: str = ""
    created_url: str = ""
    field_error: str = ""
    grid: list[dict[str, Any]] = field(default_factory=list)
    preview_rows: int = 0
    rules: list[dict[str, Any]] = field(default_factory=list)
    lock_message: str = ""
    slots_preview: list[str] = field(default_factory=list)
    edited: dict[str, Any] = field(default_factory=dict)
    engine_answer: str = ""
    as_run: list[str] = field(default_factory=list)
    screens: dict[str, dict[str, Any]] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)


async def _screen(page: Page, name: str, services: Services, journey: Journey) -> None:
    """Screenshot, horizontal overflow and axe-core's serious and critical violations."""
    await page.screenshot(path=str(services.screenshots / f"{name}.png"), full_page=True)
    await page.evaluate(AXE.read_text())  # not a script tag: the page's policy refuses those
    result = await page.evaluate(
        """async () => {
            const found = await axe.run(document, {resultTypes: ['violations']});
            return {
                violations: found.violations
                    .filter((v) => ['serious', 'critical'].includes(v.impact))
                    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
                overflow: document.documentElement.scrollWidth - window.innerWidth,
            };
        }"""
    )
    journey.screens[name] = result


async def _drop(page: Page, asset: str, at_ms: int) -> None:
    """Drag the library's asset onto the grid where `at_ms` is."""
    target = await page.evaluate(
        """(at) => {
            const element = document.getElementById('timeline');
            const panel = element.querySelector('.vis-panel.vis-center');
            const box = panel.getBoundingClientRect();
            return {x: element.vchannelTimeline.body.util.toScreen(at), y: box.height / 2};
        }""",
        at_ms,
    )
    await page.locator(f'[data-asset="{asset}"]').drag_to(
        page.locator("#timeline .vis-panel.vis-center"), target_position=target
    )


def _api(services: Services, path: str) -> Any:
    request = urllib.request.Request(
        services.api + path, headers={"Authorization": f"Bearer {KEY}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


async def _journey(services: Services) -> Journey:
    journey = Journey()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=require("chromium"), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            # the browser also logs each refused request (the 422 and the 409 the journey
            # provokes) as an error: those are answers, not faults of the page
            page.on(
                "console",
                lambda m: (
                    journey.console_errors.append(m.text)
                    if m.type == "error" and not m.text.startswith("Failed to load resource")
                    else None
                ),
            )
            page.on("pageerror", lambda e: journey.console_errors.append(str(e)))
            console = f"{services.api}/console/"
            await page.goto(console + "#/signin")
            await page.get_by_label("API key").fill(KEY)
            await _screen(page, "signin", services, journey)
            await page.get_by_role("button", name="Sign in").click()
            await page.wait_for_selector("text=No channels yet.")

            await page.goto(console + "#/library")
            urls = "\n".join(
                f"{services.origin}/{folder}/master.m3u8 {title}"
                for folder, title in SAMPLES.items()
            )
            await page.get_by_label("HLS VOD URLs").fill(urls)
            await page.get_by_role("button", name="Ingest").click()
            status = page.locator("#ingest-progress p")
            await status.filter(has_text=re.compile("^done")).wait_for(timeout=60_000)
            journey.ingest_status = await status.inner_text()
            bravo = page.locator("#library-results tr", has_text="Bravo")
            await bravo.get_by_role("button", name="Edit").click()
            await page.get_by_label("Genre").fill("Documentary")
            await page.get_by_label("Description").fill("Bees & <b>flowers</b>")
            await page.get_by_role("button", name="Save").click()
            await bravo.filter(has_text="Documentary").wait_for()
            ids = {a["title"]: a["id"] for a in _api(services, "/assets?limit=50")["items"]}
            journey.edited = _api(services, f"/assets/{ids['Bravo']}")
            await _screen(page, "library", services, journey)

            await page.goto(console + "#/channels")
            await page.get_by_label("Id").fill("Bad Id")
            await page.get_by_label("Name", exact=True).fill("Console TV")
            await page.get_by_role("button", name="Create channel").click()
            error = page.locator('[data-field="id"] .field-error')
            await error.filter(has_text=re.compile(".")).wait_for()
            journey.field_error = await error.inner_text()
            await page.get_by_label("Id").fill("console-tv")
            await page.get_by_label("Slate").select_option(ids["Slate"])
            await _screen(page, "channels", services, journey)
            await page.get_by_role("button", name="Create channel").click()
            await page.wait_for_url(re.compile("#/channel/console-tv$"))
            journey.created_url = page.url
            await page.wait_for_selector("#timeline .vis-panel.vis-center")

            now = await page.evaluate("Date.now()")
            await page.evaluate(
                "([from, to]) => document.getElementById('timeline').vchannelTimeline"
                ".setWindow(from, to, {animation: false})",
                [now - 60_000, now + 240_000],
            )
            for title, seconds in PROGRAMS:
                count = await page.locator("#timeline .vis-item.program").count()
                await _drop(page, ids[title], now + seconds * 1000)
                await page.locator("#timeline .vis-item.program").nth(count).wait_for()
            items = await page.evaluate(
                "document.getElementById('timeline').vchannelTimeline.itemsData.get()"
                ".filter((i) => i.className === 'program' || i.className === 'locked')"
                ".map((i) => ({id: i.id, start: new Date(i.start).getTime(),"
                " end: new Date(i.end).getTime()}))"
            )
            journey.grid = sorted(items, key=lambda item: item["start"])

            await page.get_by_label("Assets to play").fill(f"{ids['Bravo']}, {ids['Charlie']}")
            await page.get_by_label("Horizon (hours)").fill("1")
            await page.get_by_role("button", name="Preview").click()
            await page.wait_for_selector("#rule-preview table")
            journey.preview_rows = await page.locator("#rule-preview tr").count()
            await page.get_by_role("button", name="Save rule").click()
            await page.wait_for_selector("text=loop")
            journey.rules = _api(services, "/channels/console-tv/rules")["items"]
            await page.wait_for_selector("#timeline .vis-panel.vis-center")

            # a slots rule, previewed only: Charlie at a wall-clock time three hours ahead
            slot = time.strftime("%H:%M", time.gmtime(now / 1000 + 3 * 3600))
            await page.get_by_label("Kind").select_option("slots")
            await page.get_by_label("Slots", exact=True).fill(f"{slot} {ids['Charlie']}")
            await page.get_by_role("button", name="Preview").click()
            await page.wait_for_selector("#rule-preview table")
            journey.slots_preview = await page.locator(
                "#rule-preview td:first-child"
            ).all_inner_texts()
            await _screen(page, "channel", services, journey)

            # a drop before the lock horizon (now + 10 s)
            await page.evaluate(
                "([from, to]) => document.getElementById('timeline').vchannelTimeline"
                ".setWindow(from, to, {animation: false})",
                [now - 60_000, now + 240_000],
            )
            await _drop(page, ids["Alpha"], await page.evaluate("Date.now()") - 20_000)
            message = page.locator("#grid-message .problem")
            await message.wait_for()
            journey.lock_message = await message.inner_text()

            # wait until the first program has aired, then read the as-run log
            first_end = journey.grid[0]["end"] if journey.grid else now
            wait_ms = first_end + 2000 - await page.evaluate("Date.now()")
            await asyncio.sleep(max(0, wait_ms) / 1000)
            # the day the first program aired on, in the channel's time zone (UTC)
            day = time.strftime("%Y-%m-%d", time.gmtime(journey.grid[0]["start"] / 1000))
            await page.get_by_label("Day", exact=True).fill(day)
            await page.get_by_role("button", name="Show").click()
            await page.wait_for_selector("#as-run table")
            journey.as_run = await page.locator(
                "#as-run tbody tr td:nth-child(4)"
            ).all_inner_texts()

            await page.goto(console + "#/channels")
            engine = page.locator("tr", has_text="console-tv").locator("td").nth(5)
            await engine.filter(has_text=re.compile("^(ok|[0-9]{3}: .+)$")).wait_for()
            journey.engine_answer = await engine.inner_text()
        finally:
            await browser.close()
    return journey


@pytest.fixture(scope="module")
def journey(services: Services) -> Journey:
    return asyncio.run(_journey(services))


def test_the_sample_assets_are_ingested_from_the_library(journey: Journey) -> None:
    assert journey.ingest_status.startswith("done: 4 done, 0 refused")


def test_the_api_refusal_shows_next_to_its_field(journey: Journey) -> None:
    assert journey.field_error != ""


def test_a_created_channel_opens_its_schedule(journey: Journey) -> None:
    assert journey.created_url.endswith("#/channel/console-tv")


def test_three_dropped_programs_are_on_the_grid(journey: Journey, services: Services) -> None:
    events = _api(services, f"/channels/console-tv/events?{SINCE_AN_HOUR}")["items"]
    by_hand = sorted((e for e in events if e["rule"] is None), key=lambda e: e["start_ms"])
    assert [e["title"] for e in by_hand] == [title for title, _ in PROGRAMS]
    shown = {item["id"] for item in journey.grid}
    assert {e["id"] for e in by_hand} <= shown


SINCE_AN_HOUR = "limit=100&start=" + str(int(time.time() * 1000) - 3_600_000)


def _media_playlist(services: Services, shift_s: int) -> str:
    master = (
        urllib.request.urlopen(f"{services.engine}/live/master.m3u8?channel=console-tv", timeout=10)
        .read()
        .decode()
    )
    variant = next(line for line in master.splitlines() if line and not line.startswith("#"))
    path = variant if variant.startswith("/") else f"/live/{variant}"
    if shift_s:
        path = path.replace("/live/", f"/live/shift/{shift_s}/", 1)
    return urllib.request.urlopen(services.engine + path, timeout=10).read().decode()


def _segment_at(playlist: str, at_ms: int) -> str | None:
    """The URI of the segment that starts at `at_ms` (PROGRAM-DATE-TIME plus EXTINFs)."""
    from datetime import datetime

    moment: float | None = None
    duration = 0.0
    for line in playlist.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            text = line.split(":", 1)[1].replace("Z", "+00:00")
            moment = datetime.fromisoformat(text).timestamp() * 1000
        elif line.startswith("#EXTINF:"):
            duration = float(line[8:].split(",")[0]) * 1000
        elif line and not line.startswith("#") and moment is not None:
            if round(moment) == at_ms:
                return line
            moment += duration
    return None


def test_the_engine_plays_the_programs_at_the_times_the_grid_shows(
    journey: Journey, services: Services
) -> None:
    events = _api(services, f"/channels/console-tv/events?{SINCE_AN_HOUR}")["items"]
    grid = {item["id"]: item for item in journey.grid}
    by_hand = [e for e in events if e["rule"] is None]
    last = max(grid[e["id"]]["start"] for e in by_hand)
    while time.time() * 1000 < last + 6000:  # every program has begun
        time.sleep(1)
    for event in by_hand:
        start = grid[event["id"]]["start"]
        shift = int(time.time() - (start + 4000) / 1000)  # the window as it was just after
        playlist = _media_playlist(services, max(shift, 0))
        folder = next(f for f, title in SAMPLES.items() if title == event["title"])
        uri = _segment_at(playlist, start) or ""
        assert f"/{folder}/" in uri, (event["title"], uri)
        assert uri.endswith("/seg_000.ts"), (event["title"], uri)  # the program's first


def test_a_loop_rule_is_saved_after_its_preview(journey: Journey) -> None:
    assert journey.preview_rows > 1
    assert [rule["kind"] for rule in journey.rules] == ["loop"]


def test_an_edit_behind_the_lock_horizon_is_refused_with_a_visible_message(
    journey: Journey,
) -> None:
    assert "lock" in journey.lock_message.lower()


def test_guide_metadata_edited_in_the_library_is_saved(journey: Journey) -> None:
    assert (journey.edited["genre"], journey.edited["description"]) == (
        "Documentary",
        "Bees & <b>flowers</b>",
    )


def test_a_slots_rule_preview_airs_the_slot(journey: Journey) -> None:
    assert "Charlie" in journey.slots_preview


def test_the_channel_list_shows_what_the_engine_answers(journey: Journey) -> None:
    assert journey.engine_answer == "ok"


def test_the_as_run_log_lists_what_aired(journey: Journey) -> None:
    assert "Alpha" in journey.as_run


@pytest.mark.parametrize("screen", ["signin", "library", "channels", "channel"])
def test_each_screen_has_no_serious_accessibility_violation(journey: Journey, screen: str) -> None:
    assert journey.screens[screen]["violations"] == []


@pytest.mark.parametrize("screen", ["signin", "library", "channels", "channel"])
def test_each_screen_fits_1280_pixels_without_horizontal_scrolling(
    journey: Journey, screen: str
) -> None:
    assert journey.screens[screen]["overflow"] <= 0


def test_the_console_throws_no_script_error(journey: Journey) -> None:
    assert journey.console_errors == []
