"""The product on 127.0.0.1: a schedule service, two engine replicas following it, and the
sample origin, as separate processes. The channel is built through the REST API only."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import aiohttp
import m3u8
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from common.instants import format_date
from tests.e2e.conftest import Stack, free_port, spawn, wait_for
from tests.e2e.test_players import _assert_played, _play_in_hlsjs

pytestmark = pytest.mark.e2e
S = 1_000_000


@dataclass
class Product:
    work: Path
    api: str
    api_port: int
    origin: str
    engine_ports: list[int]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    event_ids: list[str] = field(default_factory=list)

    def engine(self, index: int) -> str:
        return f"http://127.0.0.1:{self.engine_ports[index]}"

    def start_schedule(self) -> None:
        self.processes["schedule"] = spawn(
            ["schedule-api"],
            self.work / "schedule.log",
            {
                "HOST": "127.0.0.1",
                "PORT": str(self.api_port),
                "DATABASE_URL": f"sqlite:///{self.work}/vchannel.db",
                "ALLOWED_SOURCES": "127.0.0.0/8",
            },
        )
        wait_for(f"{self.api}/health")

    def start_engine(self, index: int) -> None:
        self.processes[f"engine{index}"] = spawn(
            ["engine", "--host", "127.0.0.1", "--port", str(self.engine_ports[index])],
            self.work / f"engine{index}.log",
            {"CHANNELMGRAPI": self.api, "SYNC_INTERVAL_MS": "500"},
        )
        wait_for(f"{self.engine(index)}/health")

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


async def _call(session: aiohttp.ClientSession, method: str, url: str, body: Any = None) -> Any:
    async with session.request(method, url, json=body) as response:
        assert response.status < 300, await response.text()
        return await response.json() if response.status != 204 else None


async def _build_channel(api: str, origin: str) -> list[str]:
    """Assets, a channel and 10 s programs every 12 s from 15 s from now: all through REST."""
    async with aiohttp.ClientSession() as session:
        for asset in ("slate-ts", "ts-alpha", "ts-bravo", "ts-charlie"):
            body = {"id": asset, "title": asset, "url": f"{origin}/{asset}/master.m3u8"}
            await _call(session, "POST", f"{api}/assets", body)
        body = {"id": "live", "name": "Live", "slate": "slate-ts", "window_seconds": 30}
        await _call(session, "POST", f"{api}/channels", body)
        now = time.time_ns() // 1000
        events = [
            {
                "asset": asset,
                "start": format_date(now + (15 + 12 * n) * S),
                "clip_out_seconds": 10,
                "title": f"{asset} {n}",
            }
            for n, asset in zip(range(30), itertools.cycle(["ts-alpha", "ts-bravo", "ts-charlie"]))
        ]
        created = await _call(
            session, "POST", f"{api}/channels/live/event-batches", {"events": events}
        )
    return [event["id"] for event in created["items"]]


@pytest.fixture(scope="module")
def product(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    work = tmp_path_factory.mktemp("product")
    api_port, origin_port = free_port(), free_port()
    product = Product(
        work,
        f"http://127.0.0.1:{api_port}",
        api_port,
        f"http://127.0.0.1:{origin_port}",
        [free_port(), free_port()],
    )
    product.processes["origin"] = spawn(["origin", "--port", str(origin_port)], work / "o.log")
    try:
        wait_for(f"{product.origin}/slate-ts/master.m3u8")
        product.start_schedule()
        product.event_ids = asyncio.run(_build_channel(product.api, product.origin))
        product.start_engine(0)
        product.start_engine(1)
        for index in (0, 1):  # on air once the channel's first 30 s window has passed
            wait_for(f"{product.engine(index)}/live/360p.m3u8?channel=live", seconds=60)
        yield product
    finally:
        for process in product.processes.values():
            process.kill()
            process.wait(timeout=10)


async def _revision(url: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/health") as response:
        return int((await response.json())["sync"]["revision"])


async def test_an_edit_reaches_both_replicas_within_five_seconds(product: Product) -> None:
    event_id = product.event_ids[-1]
    async with aiohttp.ClientSession() as session:
        await _call(
            session,
            "PATCH",
            f"{product.api}/channels/live/events/{event_id}",
            {"asset": "ts-bravo", "clip_out_seconds": 10},
        )
        feed = await _call(session, "GET", f"{product.api}/plans")
    edited = time.monotonic()
    while {await _revision(product.engine(i)) for i in (0, 1)} != {feed["revision"]}:
        assert time.monotonic() - edited < 5, "an engine did not pick up the edit in 5 s"
        await asyncio.sleep(0.1)


async def _media(url: str) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{url}/live/360p.m3u8?channel=live") as response,
    ):
        assert response.status == 200
        return await response.text()


async def test_a_restarted_engine_continues_the_sequence_exactly(product: Product) -> None:
    product.stop("engine1")
    await asyncio.to_thread(product.start_engine, 1)
    for _ in range(5):  # both fetched within one window, i.e. between two segment ends
        first, restarted = await _media(product.engine(0)), await _media(product.engine(1))
        if first == restarted:
            return
    raise AssertionError(f"replicas disagree:\n{first}\n---\n{restarted}")


async def _text(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        return await response.text()


def _xmltv_seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S +0000")


async def test_xmltv_starts_are_the_program_date_times_of_first_segments(
    product: Product,
) -> None:
    """Every program that starts inside the live window starts in the guide at that segment's
    EXT-X-PROGRAM-DATE-TIME (to the second), every guide start inside the window is such a
    segment, and filler entries start at a discontinuity too."""
    for _ in range(3):  # the guide and the playlist are read a moment apart: retry a window edge
        guide = ElementTree.fromstring(
            await _text(f"{product.api}/epg.xml?channel=live&filler=true")
        )
        playlist = m3u8.loads(await _media(product.engine(0)))
        first = _xmltv_seconds(playlist.segments[0].program_date_time)
        last = _xmltv_seconds(playlist.segments[-1].program_date_time)
        cuts = [s for s in playlist.segments[1:] if s.discontinuity]
        program_cuts = {
            _xmltv_seconds(s.program_date_time) for s in cuts if "/slate-ts/" not in s.uri
        }
        all_cuts = {_xmltv_seconds(s.program_date_time) for s in cuts}
        entries = [
            (str(p.get("start")), p.findtext("category") == "Filler")
            for p in guide.iter("programme")
            if first < str(p.get("start")) <= last
        ]
        programs = {start for start, filler in entries if not filler}
        fillers = {start for start, filler in entries if filler}
        if programs == program_cuts and fillers <= all_cuts:
            break
    assert programs == program_cuts
    assert fillers <= all_cuts
    assert len(programs) >= 1
    assert len(fillers) >= 1


async def test_the_xmltv_projects_tools_read_the_live_guide(
    product: Product, tmp_path: Path
) -> None:
    path = tmp_path / "epg.xml"
    path.write_text(await _text(f"{product.api}/epg.xml"))
    validated = await asyncio.to_thread(
        subprocess.run,
        ["tv_validate_file", "--dtd-file", "/usr/share/xmltv/xmltv.dtd", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert validated.returncode == 0, validated.stdout + validated.stderr
    listing = await asyncio.to_thread(
        subprocess.run, ["tv_to_text", str(path)], capture_output=True, text=True, timeout=60
    )
    assert "ts-alpha 27" in listing.stdout


async def test_vlc_plays_the_channel_from_the_m3u_list(product: Product) -> None:
    """VLC reads the M3U (name from #EXTINF), follows its URL to the engine and records the
    live stream. VLC refuses to run as root, so it runs as nobody from a world-readable
    directory."""
    work = Path(tempfile.mkdtemp(prefix="vchannel-vlc-"))
    try:
        os.chmod(work, 0o777)
        playlist = work / "channels.m3u"
        playlist.write_text(await _text(f"{product.api}/channels.m3u?base={product.engine(0)}"))
        os.chmod(playlist, 0o644)
        recording = work / "recording.ts"
        command = [
            "cvlc",
            "-I",
            "dummy",
            "-vv",
            "--play-and-exit",
            "--run-time",
            "8",
            str(playlist),
            "--sout",
            f"#std{{access=file,mux=ts,dst={recording}}}",
        ]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "nobody", "--", *command]
        vlc = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=90
        )
        assert "processing request item: Live" in vlc.stderr, vlc.stderr[-3000:]
        probe = await asyncio.to_thread(
            subprocess.run,
            [
                "ffprobe",
                "-v",
                "error",
                "-show_entries",
                "stream=codec_type",
                "-of",
                "csv=p=0",
                str(recording),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "video" in probe.stdout.split(), probe.stderr
    finally:
        shutil.rmtree(work, ignore_errors=True)


async def test_hlsjs_starts_the_program_on_air_over_from_its_beginning(
    product: Product,
) -> None:
    """hls.js follows the start-over redirect and plays the program from its first segment
    while it grows, then to its end (EXT-X-ENDLIST), with no error."""
    url = f"{product.engine(0)}/live/startover/master.m3u8?channel=live"
    for _ in range(20):  # wait until a program (not the slate between them) is on air
        async with (
            aiohttp.ClientSession() as session,
            session.get(url, allow_redirects=False) as response,
        ):
            if response.status == 302:
                break
        await asyncio.sleep(0.5)
    report = await _play_in_hlsjs(Stack(product.engine(0), product.origin), "live", 20, url)
    assert report["errors"] == []
    assert report["unexpected"] == []
    assert report["buffered"] >= 4
    assert report["times"][0] > 0


async def _round_robin(targets: list[str], hits: dict[str, int]) -> TestServer:
    """Playlist requests alternate between the engines; a tiny reverse proxy."""
    turn = itertools.cycle(targets)

    async def forward(request: web.Request) -> web.Response:
        target = next(turn)
        hits[target] = hits.get(target, 0) + 1
        async with (
            aiohttp.ClientSession() as session,
            session.get(target + request.path_qs) as response,
        ):
            body = await response.read()
            headers = {
                k: v
                for k, v in response.headers.items()
                if k in ("Content-Type", "Cache-Control", "Access-Control-Allow-Origin")
            }
            return web.Response(status=response.status, body=body, headers=headers)

    app = web.Application()
    app.router.add_get("/{tail:.*}", forward)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server


@pytest.fixture
async def proxy(product: Product) -> AsyncIterator[tuple[str, dict[str, int]]]:
    hits: dict[str, int] = {}
    server = await _round_robin([product.engine(0), product.engine(1)], hits)
    yield str(server.make_url("")).rstrip("/"), hits
    await server.close()


async def test_hlsjs_plays_through_two_replicas_while_the_schedule_service_is_down(
    product: Product, proxy: tuple[str, dict[str, int]]
) -> None:
    url, hits = proxy

    async def outage() -> None:
        await asyncio.sleep(10)
        await asyncio.to_thread(product.stop, "schedule")

    stopping = asyncio.create_task(outage())
    try:
        report = await _play_in_hlsjs(Stack(url, product.origin), "live", 75)
        await stopping
    finally:
        if "schedule" not in product.processes:
            await asyncio.to_thread(product.start_schedule)
    _assert_played(report, boundaries=4)
    assert min(hits.values()) > 10, hits
