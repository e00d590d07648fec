"""A minimal player page for local use: hls.js (served from this package, no CDN) playing a
channel from the engine, with now/next from the schedule service."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

PLAYER_DIR = Path(__file__).resolve().parent / "player"
HLS_JS = Path(__file__).resolve().parent.parent / "common" / "vendor" / "hls.min.js"


def create_player_app(engine_url: str, api_url: str, channel: str) -> web.Application:
    """`/` is the page (?channel=ID picks another channel), `/hls.min.js` the player library."""
    config = json.dumps({"engine": engine_url, "api": api_url, "channel": channel})
    page = (
        (PLAYER_DIR / "index.html")
        .read_text()
        .replace("__CONFIG__", config.replace("<", "\\u003c"))
    )

    async def index(request: web.Request) -> web.Response:
        return web.Response(body=page.encode(), content_type="text/html")

    async def library(request: web.Request) -> web.FileResponse:
        return web.FileResponse(HLS_JS, headers={"Content-Type": "text/javascript"})

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/hls.min.js", library)
    return app
