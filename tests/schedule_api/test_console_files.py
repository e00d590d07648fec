"""The console is served by the schedule service with the libraries pinned in
package-lock.json, and /api/service tells it what it needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from schedule_api.app import create_app
from tests.schedule_api.conftest import fixed_clock, make_settings

REPO = Path(__file__).resolve().parents[2]
VENDORED = {
    "vis-timeline-graph2d.min.js": "vis-timeline/standalone/umd/vis-timeline-graph2d.min.js",
    "vis-timeline-graph2d.min.css": "vis-timeline/styles/vis-timeline-graph2d.min.css",
    "hls.min.js": "hls.js/dist/hls.min.js",
}


@pytest.mark.parametrize("name", sorted(VENDORED))
def test_vendored_libraries_are_the_pinned_npm_files(name: str) -> None:
    vendored = (REPO / "common" / "vendor" / name).read_bytes()
    assert vendored == (REPO / "node_modules" / VENDORED[name]).read_bytes()


async def test_the_console_page_is_served_without_a_key_under_a_content_policy(
    tmp_path: Path,
) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/c.db", API_KEY="k", API_KEY_READS="1")
    async with TestClient(TestServer(create_app(settings, clock=fixed_clock()))) as api:
        page = await api.get("/console/")
        assert page.status == 200
        assert "script-src" not in page.headers["Content-Security-Policy"]
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
        for path in (
            "/console/static/console.js",
            "/console/vendor/vis-timeline-graph2d.min.js",
            "/console/vendor/hls.min.js",
        ):
            assert (await api.get(path)).status == 200, path
        assert (await api.get("/channels")).status == 401


async def test_the_service_tells_clients_its_clock_lock_margin_and_playback_url(
    tmp_path: Path,
) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path}/c.db",
        LOCK_MARGIN_SECONDS=30,
        PLAYBACK_BASE_URL="https://cdn.example",
    )
    async with TestClient(TestServer(create_app(settings, clock=fixed_clock()))) as api:
        info = await (await api.get("/api/service")).json()
    assert info["lock_margin_seconds"] == 30
    assert info["playback_base_url"] == "https://cdn.example"
    assert info["now_ms"] == fixed_clock().now_us() // 1000
