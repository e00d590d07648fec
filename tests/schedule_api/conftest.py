"""Fixtures: a real PostgreSQL server on 127.0.0.1, both databases per test, and a real HTTP
origin on 127.0.0.1 that serves the sample media and broken variants of it."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from common.clock import ManualClock
from schedule_api.app import create_app
from schedule_api.http.keys import CLOCK
from schedule_api.settings import ScheduleSettings
from tests.e2e.conftest import REPO, free_port, wait_for

MEDIA = Path(__file__).resolve().parents[2] / "samples" / "media"


def _initdb() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        pytest.fail("PostgreSQL is not installed; the README's test command installs it")
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1 for the test session; yields its base URL."""
    bindir = _initdb()
    root = Path(tempfile.mkdtemp(prefix="vchannel-pg-"))
    data, port = root / "data", free_port()
    as_root = os.geteuid() == 0
    if as_root:  # initdb refuses to run as root
        shutil.chown(root, "postgres")

    def run(*command: str) -> None:
        full = ["runuser", "-u", "postgres", "--", *command] if as_root else list(command)
        subprocess.run(full, check=True, capture_output=True, timeout=120)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(root / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/vchannel.db"
        return
    url = await _new_postgres_database(request.getfixturevalue("postgres"))
    yield url
    await _drop_postgres_database(url)


@pytest.fixture
async def database_url_postgres(postgres: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database."""
    url = await _new_postgres_database(postgres)
    yield url
    await _drop_postgres_database(url)


async def _new_postgres_database(base: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"{base}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return f"{base}/{name}"


async def _drop_postgres_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    admin = await asyncpg.connect(f"{base}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


LONG_SEGMENTS = 174_000
"""A media playlist this long (97 hours of 2 s segments, 5.4 MB) is what an operator's
24/7 archive VOD looks like."""
LONG_PLAYLIST = (
    "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n"
    + "".join(f"#EXTINF:2.000000,\nseg_{n:06d}.ts\n" for n in range(LONG_SEGMENTS))
    + "#EXT-X-ENDLIST\n"
)


def _broken(text: str) -> web.Response:
    return web.Response(text=text, content_type="application/vnd.apple.mpegurl")


def _origin_app() -> web.Application:
    """Sample media under /media/, and broken VODs under /broken/<kind>/."""
    app = web.Application()
    alpha = (MEDIA / "ts-alpha" / "master.m3u8").read_text()

    async def master_with_missing_rendition(request: web.Request) -> web.Response:
        text = alpha.replace("360p/index.m3u8", "/media/ts-alpha/360p/index.m3u8")
        text = text.replace("180p/index.m3u8", "/media/ts-alpha/180p/index.m3u8")
        return _broken(text.replace("270p/index.m3u8", "missing/index.m3u8"))

    async def misaligned_master(request: web.Request) -> web.Response:
        return _broken(alpha)

    async def misaligned_media(request: web.Request) -> web.Response:
        text = (MEDIA / "ts-alpha" / request.match_info["variant"] / "index.m3u8").read_text()
        if request.match_info["variant"] == "180p":
            text = text.replace("#EXTINF:2.000000,\nseg_003.ts", "#EXTINF:2.500000,\nseg_003.ts")
        return _broken(text)

    async def garbage(request: web.Request) -> web.Response:
        return web.Response(body=os.urandom(4096), content_type="application/octet-stream")

    async def huge(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/vnd.apple.mpegurl"
        await response.prepare(request)
        await response.write(b"#EXTM3U\n")
        line = b"#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00Z\n" * 1000
        for _ in range(50 * 1_048_576 // len(line)):
            await response.write(line)
        return response

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return _broken(alpha)

    async def no_endlist(request: web.Request) -> web.Response:
        text = (MEDIA / "ts-alpha" / "360p" / "index.m3u8").read_text()
        return _broken(text.replace("#EXT-X-ENDLIST\n", ""))

    async def other_schemes(request: web.Request) -> web.Response:
        text = (MEDIA / "ts-alpha" / "360p" / "index.m3u8").read_text()
        return _broken(text.replace("seg_001.ts", "javascript:alert(1)//seg_001.ts", 1))

    async def slow_variants_master(request: web.Request) -> web.Response:
        return _broken(alpha)  # its three variants answer from slow_variant

    async def slow_variant(request: web.Request) -> web.Response:
        await asyncio.sleep(0.45)
        return _broken(
            (MEDIA / "ts-alpha" / request.match_info["variant"] / "index.m3u8").read_text()
        )

    async def long_media(request: web.Request) -> web.Response:
        return _broken(LONG_PLAYLIST)

    async def redirect_loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/broken/loop/master.m3u8")

    async def redirect_once(request: web.Request) -> web.Response:
        raise web.HTTPFound("/media/ts-bravo/master.m3u8")

    app.router.add_get("/broken/missing/master.m3u8", master_with_missing_rendition)
    app.router.add_get("/broken/misaligned/master.m3u8", misaligned_master)
    app.router.add_get("/broken/misaligned/{variant}/index.m3u8", misaligned_media)
    app.router.add_get("/broken/garbage/master.m3u8", garbage)
    app.router.add_get("/broken/huge/master.m3u8", huge)
    app.router.add_get("/broken/slow/master.m3u8", slow)
    app.router.add_get("/broken/noendlist/index.m3u8", no_endlist)
    app.router.add_get("/broken/loop/master.m3u8", redirect_loop)
    app.router.add_get("/broken/schemes/index.m3u8", other_schemes)
    app.router.add_get("/slow-variants/master.m3u8", slow_variants_master)
    app.router.add_get("/slow-variants/{variant}/index.m3u8", slow_variant)
    app.router.add_get("/long/index.m3u8", long_media)
    app.router.add_get("/moved/master.m3u8", redirect_once)
    app.router.add_static("/media", MEDIA)
    return app


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    server = TestServer(_origin_app(), host="127.0.0.1")
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}"
    await server.close()


T_START_US = 1_800_000_000_000_000
"""Where the test services' clocks start (2027-01-15T08:00:00Z)."""


def fixed_clock() -> ManualClock:
    """A clock at T_START_US that only `advance` moves."""
    return ManualClock(T_START_US)


def _clock(api: TestClient) -> ManualClock:
    assert api.app is not None
    clock = api.app[CLOCK]
    assert isinstance(clock, ManualClock)
    return clock


def now_us(api: TestClient) -> int:
    """The test service's clock (a fixed instant until `advance` moves it)."""
    return _clock(api).now_us()


def advance(api: TestClient, seconds: float) -> None:
    _clock(api).advance(round(seconds * 1_000_000))


def start_service(environ: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """A `vchannel schedule-api` process on 127.0.0.1:port, once it answers /health."""
    full = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **environ}
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "vchannel", "schedule-api"],
            cwd=REPO,
            env=full,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    wait_for(f"http://127.0.0.1:{port}/health")
    return process


def make_settings(database_url: str, **changes: Any) -> ScheduleSettings:
    environ = {
        "DATABASE_URL": database_url,
        "ALLOWED_SOURCES": "127.0.0.0/8",
        "INGEST_TIMEOUT_SECONDS": "1",
        **{k: str(v) for k, v in changes.items()},
    }
    return ScheduleSettings.from_env(environ)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(make_settings(database_url), clock=fixed_clock())))
    await client.start_server()
    yield client
    await client.close()


async def ingest(api: TestClient, origin: str, asset: str, asset_id: str | None = None) -> Any:
    body: dict[str, Any] = {"url": f"{origin}/media/{asset}/master.m3u8", "title": asset}
    if asset_id:
        body["id"] = asset_id
    response = await api.post("/assets", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


def set_now(api: TestClient, instant_us: int) -> None:
    _clock(api).instant_us = instant_us


async def problem(response: Any, status: int, field: str) -> str:
    """Assert an application/problem+json answer naming `field`; its detail."""
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "application/problem+json"
    found = await response.json()
    assert found["invalid-params"][0]["name"] == field
    return str(found["detail"])
