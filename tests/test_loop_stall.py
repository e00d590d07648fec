"""Both services measure how long their event loop was kept from running."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from engine.app import create_app as create_engine_app
from engine.settings import EngineSettings
from schedule_api.app import create_app as create_schedule_app
from tests.schedule_api.conftest import fixed_clock, make_settings


def _metric(text: str, name: str) -> float:
    (line,) = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[1])


async def _worst_after_blocking(client: TestClient, name: str) -> float:
    await asyncio.sleep(0.1)  # the probe is running
    time.sleep(0.3)  # noqa: ASYNC251 - the stall under test
    await asyncio.sleep(0.1)
    return _metric(await (await client.get("/metrics")).text(), name)


async def test_the_engine_reports_its_worst_loop_stall() -> None:
    async with TestClient(TestServer(create_engine_app(EngineSettings()))) as client:
        worst = await _worst_after_blocking(
            client, "vchannel_engine_event_loop_worst_stall_seconds"
        )
    assert 0.25 <= worst < 1


async def test_the_schedule_service_reports_its_worst_loop_stall(tmp_path: Any) -> None:
    app = create_schedule_app(make_settings(f"sqlite:///{tmp_path}/s.db"), clock=fixed_clock())
    async with TestClient(TestServer(app)) as client:
        worst = await _worst_after_blocking(
            client, "vchannel_schedule_event_loop_worst_stall_seconds"
        )
    assert 0.25 <= worst < 1


async def test_an_idle_service_reports_no_stall_worth_the_name() -> None:
    async with TestClient(TestServer(create_engine_app(EngineSettings()))) as client:
        await asyncio.sleep(0.3)
        text = await (await client.get("/metrics")).text()
    assert _metric(text, "vchannel_engine_event_loop_worst_stall_seconds") < 0.1
