"""Benchmark: media playlist requests per second and latency of the engine's request path.

Starts a real engine on 127.0.0.1 with 1 or 100 channels (copies of the sample TS channel),
drives it with wrk (Debian package) at 50 concurrent connections, spreading requests over all
channels and variants, and prints req/s with p50/p99 latency. Bounded: each run lasts
--seconds and talks only to 127.0.0.1.

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


def run(channels: int, workers: int, seconds: int, threads: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as work:
        plans = Path(work) / "plans"
        _plans(plans, channels)
        script = Path(work) / "spread.lua"
        script.write_text(LUA % {"channels": channels})
        port = _free_port()
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
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/health", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            result = subprocess.run(
                [
                    "wrk",
                    f"-t{threads}",
                    "-c50",
                    f"-d{seconds}s",
                    "--latency",
                    "-s",
                    str(script),
                    base,
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 30,
                check=True,
            ).stdout
        finally:
            engine.terminate()
            engine.wait(timeout=10)
    return wrk_figures(result)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--channels", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    print(
        f"machine: {os.cpu_count()} cores; wrk -t{args.threads} -c50 -d{args.seconds}s on 127.0.0.1"
    )
    print(f"{'channels':>8} {'workers':>7} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>7}")
    for channels in args.channels:
        for workers in args.workers:
            r = run(channels, workers, args.seconds, args.threads)
            print(
                f"{channels:>8} {workers:>7} {r['rps']:>9.0f} {r['p50_ms']:>7.2f} "
                f"{r['p99_ms']:>7.2f} {r['non_2xx']:>7}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
