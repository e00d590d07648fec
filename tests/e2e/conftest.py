"""Real processes on 127.0.0.1: the sample media origin and an engine serving test plans.

The test plans schedule short programs (clips of the sample assets) with slate gaps around the
current time, so that a minute of real playback crosses several program boundaries.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from vchannel.samples import write_sample_plans

REPO = Path(__file__).resolve().parents[2]
HLS_JS = REPO / "node_modules" / "hls.js" / "dist" / "hls.min.js"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _profile(plans: Path, slate_plan: str) -> list[object]:
    return json.loads((plans / slate_plan).read_text())["channel"]["profile"]  # type: ignore[no-any-return]


def write_e2e_plans(plans: Path, now: datetime) -> None:
    """Two channels whose programs change every 10-14 s, from two minutes ago for an hour."""
    checkpoint = now.replace(microsecond=0) - timedelta(minutes=2)
    programs = {
        "e2e-ts": (["ts-alpha", "ts-bravo", "ts-charlie"], "slate-ts", "sample-ts.json"),
        "e2e-cmaf": (["cmaf-delta"], "slate-cmaf", "sample-cmaf.json"),
    }
    for channel, (assets, slate, sample) in programs.items():
        blocks = []
        start = checkpoint
        number = 0
        while start < checkpoint + timedelta(hours=1):
            asset = assets[number % len(assets)]
            first = (number * 2) % 6
            blocks.append(
                {
                    "start": _iso(start),
                    "asset": asset,
                    "first_segment": first,
                    "end_segment": first + 5,
                    "title": f"{asset} part {number}",
                }
            )
            # 10 s of program, then 0, 2 or 4 s of slate.
            start += timedelta(seconds=10 + 2 * (number % 3))
            number += 1
        plan = {
            "channel": {
                "id": channel,
                "name": channel,
                "target_duration": 2,
                "window_seconds": 16,
                "slate": slate,
                "profile": _profile(plans, sample),
            },
            "revision": 1,
            "checkpoint": {"time": _iso(checkpoint)},
            "blocks": blocks,
        }
        (plans / f"{channel}.json").write_text(json.dumps(plan, indent=1))
    write_multi_language_plan(plans, checkpoint)


MULTI_PROGRAM_S = 16
"""e2e-multi: each program is 12 s of one asset with a 4 s ad break after its first 6 s."""


def write_multi_language_plan(plans: Path, checkpoint: datetime) -> None:
    """e2e-multi: programs of the two-language assets alternating back to back, each split
    by an ad break (the slate, marked with DATERANGE and CUE tags)."""
    sample = json.loads((plans / "sample-multi.json").read_text())["channel"]
    blocks = []
    for number in range(3600 // MULTI_PROGRAM_S):
        asset = ("multi-echo", "multi-foxtrot")[number % 2]
        blocks.append(
            {
                "start": _iso(checkpoint + timedelta(seconds=number * MULTI_PROGRAM_S)),
                "asset": asset,
                "first_segment": 0,
                "end_segment": 6,
                "breaks": [{"at_segment": 3, "duration": 4}],
            }
        )
    plan = {
        "channel": {
            **sample,
            "id": "e2e-multi",
            "name": "e2e-multi",
            "window_seconds": 16,
            "ad_markers": {"cue_tags": True, "splice_command": "time_signal"},
        },
        "revision": 1,
        "checkpoint": {"time": _iso(checkpoint)},
        "blocks": blocks,
    }
    (plans / "e2e-multi.json").write_text(json.dumps(plan, indent=1))


@dataclass(frozen=True)
class Stack:
    engine: str
    origin: str

    def master(self, channel: str) -> str:
        return f"{self.engine}/live/master.m3u8?channel={channel}"


def spawn(
    args: list[str], log: Path, environ: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m vchannel <args>` with extra environment, output appended to `log`."""
    with log.open("ab") as output:  # the child keeps its own descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "vchannel", *args],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(environ or {})},
        )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stack")
    origin_port, engine_port = free_port(), free_port()
    origin = f"http://127.0.0.1:{origin_port}"
    plans = work / "plans"
    write_sample_plans(plans, origin + "/")
    write_e2e_plans(plans, datetime.now(UTC))
    processes = [
        spawn(["origin", "--port", str(origin_port)], work / "origin.log"),
        spawn(
            ["engine", "--host", "127.0.0.1", "--port", str(engine_port), "--plans", str(plans)],
            work / "engine.log",
        ),
    ]
    try:
        wait_for(f"{origin}/ts-alpha/master.m3u8")
        wait_for(f"http://127.0.0.1:{engine_port}/health")
        yield Stack(f"http://127.0.0.1:{engine_port}", origin)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=10)


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed; run the README's test command, which installs it")
    return path


@dataclass(frozen=True)
class CdnStack:
    """The CloudFront stand-in (`vchannel cdn`, nginx) in front of engine replicas that serve
    the same plans; `processes` names each process (origin, engine-1, engine-2, cdn)."""

    cdn: str
    engines: tuple[str, ...]
    processes: dict[str, subprocess.Popen[bytes]]

    def master(self, channel: str) -> str:
        return f"{self.cdn}/live/master.m3u8?channel={channel}"

    def origin_requests(self) -> int:
        """Playlist requests the engines have answered (all but /health and /metrics), summed
        over the replicas that are still running."""
        total = 0
        for number, engine in enumerate(self.engines, 1):
            if self.processes[f"engine-{number}"].poll() is not None:
                continue
            with urllib.request.urlopen(f"{engine}/metrics", timeout=5) as response:
                text = response.read().decode()
            for family in text_string_to_metric_families(text):
                if family.name != "vchannel_engine_requests":
                    continue
                for sample in family.samples:
                    route = sample.labels.get("route", "")
                    if sample.name.endswith("_total") and route not in ("/health", "/metrics"):
                        total += int(sample.value)
        return total


@contextmanager
def run_cdn_stack(work: Path, replicas: int = 2) -> Iterator[CdnStack]:
    """The sample origin, `replicas` engines with the e2e plans, and the CDN stand-in."""
    origin_port, cdn_port = free_port(), free_port()
    engine_ports = [free_port() for _ in range(replicas)]
    origin = f"http://127.0.0.1:{origin_port}"
    plans = work / "plans"
    write_sample_plans(plans, origin + "/")
    write_e2e_plans(plans, datetime.now(UTC))
    engines = tuple(f"http://127.0.0.1:{port}" for port in engine_ports)
    processes = {"origin": spawn(["origin", "--port", str(origin_port)], work / "origin.log")}
    try:
        for number, port in enumerate(engine_ports, 1):
            processes[f"engine-{number}"] = spawn(
                ["engine", "--host", "127.0.0.1", "--port", str(port), "--plans", str(plans)],
                work / f"engine-{number}.log",
            )
        origins = [arg for engine in engines for arg in ("--origin", engine)]
        processes["cdn"] = spawn(
            ["cdn", "--port", str(cdn_port), "--work", str(work / "cdn"), *origins],
            work / "cdn.log",
        )
        wait_for(f"{origin}/ts-alpha/master.m3u8")
        for engine in engines:
            wait_for(f"{engine}/health")
        wait_for(f"http://127.0.0.1:{cdn_port}/health")
        yield CdnStack(f"http://127.0.0.1:{cdn_port}", engines, processes)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.terminate()
        for process in processes.values():
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def cdn_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CdnStack]:
    with run_cdn_stack(tmp_path_factory.mktemp("cdn-stack")) as made:
        yield made


def group_ends(group: int, seconds: float) -> bool:
    """Whether the process group (a process and its workers) is empty within `seconds`
    (multiprocessing's resource tracker ends just after the process)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
