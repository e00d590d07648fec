"""`vchannel up` as a new user meets it: a clean banner, a player page that says when the new
channel goes on air and then plays without a leftover error, now/next that follows the
picture, `/` leading to the player, a busy port in one line, and SIGTERM stopping cleanly."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright

from tests.e2e.conftest import REPO, free_port, group_ends, require
from tests.e2e.test_players import CHROMIUM_ARGS

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Up:
    process: subprocess.Popen[str]
    data: Path
    engine: int
    api: int
    origin: int
    before_banner: str


def _start_up(data: Path) -> Up:
    engine, api, origin = free_port(), free_port(), free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vchannel",
            "up",
            "--port",
            str(engine),
            "--api-port",
            str(api),
            "--origin-port",
            str(origin),
            "--data",
            str(data),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: the tests can see what it leaves
    )
    assert process.stdout is not None
    before: list[str] = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if line.startswith("vchannel is up"):
            break
        before.append(line)
        assert time.monotonic() < deadline, before
    return Up(process, data, engine, api, origin, "".join(before))


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    started = _start_up(tmp_path_factory.mktemp("up") / "data")
    try:
        yield started
    finally:
        started.process.terminate()
        started.process.communicate(timeout=20)


def test_nothing_is_logged_before_the_banner(up: Up) -> None:
    assert up.before_banner == ""


def test_the_root_of_the_origin_leads_to_the_player(up: Up) -> None:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as found:
        opener.open(f"http://127.0.0.1:{up.origin}/", timeout=5)
    with found.value as answer:
        assert (answer.code, answer.headers["Location"]) == (302, "/player/")


async def _watch_the_player(up: Up) -> dict[str, Any]:
    """Open the player page at once and read its status line until it has played 10 s
    (currentTime starts where the live window does, not at 0)."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=require("chromium"), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            missing: list[str] = []
            page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
            await page.goto(f"http://127.0.0.1:{up.origin}/player/")
            statuses: list[str] = []
            lags: list[float] = []
            first = None
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                state = await page.evaluate(
                    "({status: document.getElementById('status').textContent,"
                    " played: document.getElementById('video').currentTime,"
                    " at: Number(document.getElementById('guide').dataset.at || 0),"
                    " wall: Date.now()})"
                )
                statuses.append(state["status"])
                if state["played"] > 0:
                    first = state["played"] if first is None else first
                    lags.append((state["wall"] - state["at"]) / 1000)
                    if state["played"] - first > 10:
                        break
                await asyncio.sleep(0.5)
            return {"statuses": statuses, "lags": lags, "missing": missing}
        finally:
            await browser.close()


@pytest.fixture(scope="module")
def watched(up: Up) -> dict[str, Any]:
    return asyncio.run(_watch_the_player(up))


def test_the_player_page_says_when_the_new_channel_goes_on_air(watched: dict[str, Any]) -> None:
    early = watched["statuses"][:10]  # the first 5 s
    assert any(re.fullmatch(r"demo goes on air in \d+ s", status) for status in early), early


def test_the_player_page_shows_no_error_once_it_plays(watched: dict[str, Any]) -> None:
    assert watched["statuses"][-6:] == [""] * 6, watched["statuses"]
    assert not any("error" in status for status in watched["statuses"]), watched["statuses"]


def test_now_next_follows_the_picture_not_the_wall_clock(watched: dict[str, Any]) -> None:
    """hls.js plays several seconds behind live: the guide's instant is that far back."""
    assert min(watched["lags"][-5:]) > 2, watched["lags"]


def test_the_page_asks_for_nothing_that_is_missing(watched: dict[str, Any]) -> None:
    assert watched["missing"] == []


def test_a_busy_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    api = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", api))
        holder.listen()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "vchannel",
                "up",
                "--port",
                str(free_port()),
                "--api-port",
                str(api),
                "--origin-port",
                str(free_port()),
                "--data",
                str(tmp_path),
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"vchannel up: cannot listen on 127.0.0.1:{api} for the schedule service (Address "
        "already in use); stop what uses it or choose another port with --api-port"
    ]


def test_sigterm_stops_cleanly_and_leaves_no_sqlite_journal(tmp_path: Path) -> None:
    started = _start_up(tmp_path / "data")
    started.process.send_signal(signal.SIGTERM)
    started.process.communicate(timeout=30)
    assert started.process.returncode == 0
    assert sorted(p.name for p in started.data.iterdir()) == ["vchannel.db"]


def test_sigterm_right_after_the_banner_leaves_no_process_behind(tmp_path: Path) -> None:
    """Worker processes of the schedule service stop with it (none left in its group)."""
    started = _start_up(tmp_path / "data")
    started.process.send_signal(signal.SIGTERM)
    started.process.communicate(timeout=30)
    assert group_ends(started.process.pid, 5)
