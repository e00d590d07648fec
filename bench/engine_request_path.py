"""Benchmark: media playlist requests per second and latency of the engine's request path,
side by side with the ceiling of the stack it runs on.

Starts a real engine on 127.0.0.1 with 1 or 100 channels (copies of the sample TS channel),
drives it with wrk (Debian package) at 50 concurrent connections, spreading requests over all
channels and variants, and prints req/s with p50/p99 latency. In the same run, the baseline: a
bare aiohttp + uvloop handler in one process that answers the same paths with the same bytes
(fetched from the engine beforehand) from a dict, driven the same way; `vs bare` is the
engine's req/s over the baseline's. Bounded: each run lasts --seconds and talks only to
127.0.0.1.

    ./run bench [--seconds 10] [--workers 1 2] [--channels 1 100]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from vchannel.samples import write_sample_plans

REPO = Path(__file__).resolve().parent.parent

VARIANTS = ("360p", "270p", "180p")
LUA = """
local paths = {}
for c = 1, %(channels)d do
  for _, v in ipairs({"360p", "270p", "180p"}) do
    paths[#paths + 1] = "/live/" .. v .. ".m3u8?channel=bench-" .. c
  end
end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i %% #paths) + 1])
end
"""


def _paths(channels: int) -> list[str]:
    return [
        f"/live/{variant}.m3u8?channel=bench-{number}"
        for number in range(1, channels + 1)
        for variant in VARIANTS
    ]


def serve_baseline(port: int, bodies_file: Path) -> None:
    """The ceiling: aiohttp on uvloop answering each path with stored bytes, nothing else."""
    import asyncio

    import uvloop
    from aiohttp import web

    bodies = {path: body.encode() for path, body in json.loads(bodies_file.read_text()).items()}

    async def answer(request: web.Request) -> web.Response:
        body = bodies.get(request.path_qs)
        if body is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=body,
            content_type="application/vnd.apple.mpegurl",
            headers={"Cache-Control": "public, max-age=1, stale-if-error=60"},
        )

    app = web.Application()
    app.router.add_get("/{tail:.*}", answer)
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def _wait(base: str, path: str) -> None:
    for _ in range(200):
        try:
            urllib.request.urlopen(f"{base}{path}", timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{base}{path} never answered")


def _wrk(base: str, script: Path, seconds: int, threads: int) -> dict[str, float]:
    result = subprocess.run(
        ["wrk", f"-t{threads}", "-c50", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    ).stdout
    return wrk_figures(result)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _plans(directory: Path, channels: int) -> None:
    write_sample_plans(directory)
    template = json.loads((directory / "sample-ts.json").read_text())
    for path in directory.glob("sample-*.json"):
        path.unlink()
    for number in range(1, channels + 1):
        template["channel"]["id"] = f"bench-{number}"
        (directory / f"bench-{number}.json").write_text(json.dumps(template))


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_figures(output: str) -> dict[str, float]:
    """Requests per second, p50 and p99 (ms) and non-2xx answers from `wrk --latency`."""
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = _milliseconds(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = _milliseconds(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rate,
        "p50_ms": p50,
        "p99_ms": p99,
        "non_2xx": int(errors.group(1)) if errors else 0,
    }


def run(
    channels: int, workers: int, seconds: int, threads: int
) -> tuple[dict[str, float], dict[str, float]]:
    """(engine, baseline) figures for one configuration, measured one after the other."""
    with tempfile.TemporaryDirectory() as work:
        plans = Path(work) / "plans"
        _plans(plans, channels)
        script = Path(work) / "spread.lua"
        script.write_text(LUA % {"channels": channels})
        port, baseline_port = _free_port(), _free_port()
        engine = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "vchannel",
                "engine",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--plans",
                str(plans),
                "--workers",
                str(workers),
            ],
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        baseline = None
        try:
            base = f"http://127.0.0.1:{port}"
            _wait(base, "/health")
            bodies = {}
            for path in _paths(channels):
                with urllib.request.urlopen(f"{base}{path}", timeout=5) as response:
                    bodies[path] = response.read().decode()
            bodies_file = Path(work) / "bodies.json"
            bodies_file.write_text(json.dumps(bodies))
            engine_figures = _wrk(base, script, seconds, threads)
            baseline = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--serve-baseline",
                    str(baseline_port),
                    str(bodies_file),
                ],
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            baseline_base = f"http://127.0.0.1:{baseline_port}"
            _wait(baseline_base, _paths(1)[0])
            baseline_figures = _wrk(baseline_base, script, seconds, threads)
        finally:
            for process in (engine, baseline):
                if process is not None:
                    process.terminate()
                    process.wait(timeout=10)
    return engine_figures, baseline_figures


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument(
        "--serve-baseline", nargs=2, metavar=("PORT", "BODIES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(int(args.serve_baseline[0]), Path(args.serve_baseline[1]))
        return 0
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    print(
        f"machine: {os.cpu_count()} cores; wrk -t{args.threads} -c50 -d{args.seconds}s on 127.0.0.1"
    )
    print(
        f"{'channels':>8} {'workers':>7} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'non-2xx':>7} {'bare req/s':>10} {'bare p99':>8} {'vs bare':>7}"
    )
    for channels in args.channels:
        for workers in args.workers:
            r, bare = run(channels, workers, args.seconds, args.threads)
            print(
                f"{channels:>8} {workers:>7} {r['rps']:>9.0f} {r['p50_ms']:>7.2f} "
                f"{r['p99_ms']:>7.2f} {r['non_2xx']:>7} {bare['rps']:>10.0f} "
                f"{bare['p99_ms']:>8.2f} {r['rps'] / bare['rps']:>6.2f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
