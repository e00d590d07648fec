"""Engine worker processes (WORKERS > 1) end with the engine's main process, even when that
one is killed outright and cannot stop them: none is left holding the port."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.e2e.conftest import REPO, free_port, group_ends


def _wait_answering(url: str, seconds: float) -> None:
    """Until the server answers at all (the engine says 503 until its first plan sync)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not answer in {seconds} s"
            time.sleep(0.1)


def test_workers_end_when_the_main_process_is_killed(tmp_path: Path) -> None:
    port = free_port()
    environ = {
        **os.environ,
        "WORKERS": "2",
        "CHANNELMGRAPI": f"http://127.0.0.1:{free_port()}",  # nobody there: sync just fails
    }
    arguments = ["engine", "--host", "127.0.0.1", "--port", str(port)]
    with (tmp_path / "engine.log").open("ab") as log:
        engine = subprocess.Popen(
            [sys.executable, "-m", "vchannel", *arguments],
            cwd=REPO,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_answering(f"http://127.0.0.1:{port}/health", 20)
        engine.kill()
        engine.wait(10)
        assert group_ends(engine.pid, 10)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(engine.pid, signal.SIGKILL)
