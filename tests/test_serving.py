"""common/serving.py: what both services answer before any handler runs, over real TCP on
127.0.0.1: aiohttp's own errors as problem+json, and no connection held open forever."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from common.serving import start
from engine.app import create_app as create_engine_app
from engine.settings import KEEPALIVE_TIMEOUT_S, EngineSettings
from schedule_api.settings import ScheduleSettings

KEEPALIVE_S = 1


@pytest.fixture
async def port() -> AsyncIterator[int]:
    """An engine (no channels) served as `vchannel engine` serves it, on a free port."""
    runner = await start(create_engine_app(EngineSettings()), "127.0.0.1", 0, KEEPALIVE_S)
    (address,) = runner.addresses
    yield int(address[1])
    await runner.cleanup()


async def _exchange(port: int, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


async def test_an_over_long_request_line_is_a_problem(port: int) -> None:
    answer = await _exchange(port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Content-Type: application/problem+json" in head
    assert json.loads(body)["status"] == 400


async def test_a_nul_in_a_header_is_a_problem(port: int) -> None:
    answer = await _exchange(port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert (head.split(b" ")[1], json.loads(body)["title"]) == (b"400", "Bad Request")


async def test_a_connection_that_never_finishes_its_headers_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    await writer.drain()
    closed = await asyncio.wait_for(reader.read(), KEEPALIVE_S + 3)
    writer.close()
    assert closed == b""


async def test_an_idle_connection_is_closed(port: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    closed = await asyncio.wait_for(reader.read(), KEEPALIVE_S + 3)
    writer.close()
    assert closed == b""


def test_both_services_keep_idle_connections_longer_than_the_load_balancer() -> None:
    """Past the ALB's 60 s idle timeout, so that the ALB, not the target, closes first."""
    timeouts = (
        EngineSettings.from_env({}).keepalive_timeout_s,
        ScheduleSettings.from_env({}).keepalive_timeout_s,
    )
    assert timeouts == (KEEPALIVE_TIMEOUT_S, KEEPALIVE_TIMEOUT_S)
    assert KEEPALIVE_TIMEOUT_S > 60
