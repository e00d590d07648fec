"""The container health checks the task definitions carry, run against a real engine: the
engine's asks only that the process answers (a new engine waiting for a schedule service that is
being replaced is alive, not broken), the schedule service's asks for a 200."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from cloudformation.params import StackParams
from cloudformation.services import ServiceSpec, service_specs
from engine.app import create_app
from engine.settings import EngineSettings


async def _probe(spec: ServiceSpec, port: int) -> int:
    """Exit status of the spec's health check command aimed at `port`."""
    command = dataclasses.replace(spec, port=port).health_check_command
    assert command[:2] == ["CMD", "python"]
    process = await asyncio.create_subprocess_exec(sys.executable, *command[2:])
    return await asyncio.wait_for(process.wait(), timeout=30)


@pytest.fixture
async def waiting_engine() -> AsyncIterator[int]:
    """The port of an engine whose schedule service is away (it answers /health with 503)."""
    settings = EngineSettings(channel_manager_url="http://127.0.0.1:9", sync_interval_ms=100)
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            response = await session.get(server.make_url("/health"))
            assert response.status == 503
        assert server.port is not None
        yield server.port
    finally:
        await server.close()


async def test_an_engine_waiting_for_its_first_sync_passes_its_container_check(
    waiting_engine: int,
) -> None:
    engine = service_specs(StackParams())["engine"]
    assert await _probe(engine, waiting_engine) == 0


async def test_an_engine_that_does_not_answer_fails_its_container_check() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    engine = service_specs(StackParams())["engine"]
    assert await _probe(engine, port) != 0


async def test_the_schedule_services_check_needs_a_200(waiting_engine: int) -> None:
    schedule = service_specs(StackParams())["schedule"]
    ready = TestServer(create_app(EngineSettings()), host="127.0.0.1")  # no sync: 200
    await ready.start_server()
    try:
        assert ready.port is not None
        assert await _probe(schedule, ready.port) == 0
    finally:
        await ready.close()
    assert await _probe(schedule, waiting_engine) != 0
