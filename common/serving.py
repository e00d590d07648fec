"""Serving an application: the one place both services (and `vchannel up`) open a port.

- Every answer is the application's, or problem+json: aiohttp answers malformed requests
  (a request line over 8,190 bytes, NUL in a header) before any middleware runs, and those
  answers come out as RFC 9457 problems too (`ProblemRunner`).
- A connection that sits idle, or that has not finished sending its request headers, is
  closed after `keepalive_timeout_s` (aiohttp times both from the same moment).
- SIGINT and SIGTERM both stop the service cleanly: the application's cleanup runs, so
  SQLite checkpoints its WAL and background jobs stop at a transaction boundary.
- A child process (an engine worker, the ingest parser) ends when the process that started
  it is gone (`end_with_parent`), even if that one was killed outright and could not stop it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from common.problem import problem

PARENT_CHECK_S = 1.0
"""How often a child process checks that its parent is still there."""


def end_with_parent(parent: int, signum: int = signal.SIGTERM) -> None:
    """Send this process `signum` once `parent` (the process that started it) is gone: a
    parent that stops cleanly stops its children itself, but one killed outright (SIGKILL,
    the OOM killer) cannot, and its children would hold their port or pipe forever."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os.kill(os.getpid(), signum)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class _ProblemRequestHandler(RequestHandler):
    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's own error answer (it logs, and checks nothing was sent yet), as a
        problem document."""
        super().handle_error(request, status, exc, message)
        title = HTTPStatus(status).phrase
        detail = message if message and status != 500 else title
        response = problem(status, title, detail.splitlines()[0][:500])
        response.force_close()
        return response


class _ProblemServer(Server):
    __slots__ = ()

    def __call__(self) -> RequestHandler:
        return _ProblemRequestHandler(self, loop=self._loop, **self._kwargs)


class ProblemRunner(web.AppRunner):
    """An AppRunner whose connections answer aiohttp's own errors with problem+json."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _ProblemServer
        return server


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it exists (every platform but Windows), else asyncio's loop."""
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        return asyncio.new_event_loop()


async def start(
    app: web.Application, host: str, port: int, keepalive_timeout_s: float, **site: Any
) -> web.AppRunner:
    """Start serving `app` on host:port; `site` goes to web.TCPSite (reuse_port)."""
    runner = ProblemRunner(app, access_log=None, keepalive_timeout=keepalive_timeout_s)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, **site).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event that SIGINT or SIGTERM sets, from now until the block ends: a signal that
    arrives while a service is still starting waits for its clean stop instead of killing
    the process half-started."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(number, stop.set)
    try:
        yield stop
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(number)


async def until_stopped(on_stop: Callable[[], None] | None = None) -> None:
    """Wait for SIGINT or SIGTERM."""
    with stop_signals() as stop:
        await stop.wait()
    if on_stop is not None:
        on_stop()


def serve(
    app: web.Application,
    host: str,
    port: int,
    keepalive_timeout_s: float,
    *,
    reuse_port: bool = False,
) -> None:
    """Serve `app` until SIGINT or SIGTERM, then clean up."""

    async def main() -> None:
        runner = await start(app, host, port, keepalive_timeout_s, reuse_port=reuse_port)
        try:
            await until_stopped()
        finally:
            await runner.cleanup()

    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(main())
