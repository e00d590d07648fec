"""A static HLS origin for local use: serves a media folder the way a VOD CDN would.

Segments are immutable (cached 14 days), VOD playlists briefly; every response allows any
origin, since browser players fetch segments cross-origin.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

SEGMENT_CACHE = "max-age=1209600, immutable"
PLAYLIST_CACHE = "max-age=60"
TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".m4s": "video/iso.segment",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
}


async def _headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["Access-Control-Allow-Origin"] = "*"
    suffix = Path(request.path).suffix
    if response.status == 200 and suffix in TYPES:
        response.headers["Content-Type"] = TYPES[suffix]
        response.headers["Cache-Control"] = PLAYLIST_CACHE if suffix == ".m3u8" else SEGMENT_CACHE


def create_origin_app(root: Path, player: web.Application | None = None) -> web.Application:
    """Serve the files under `root` at `/` (and a player page at `/player/`, if given, to
    which `/` then leads)."""
    app = web.Application()
    if player is not None:
        app.add_subapp("/player/", player)

        async def to_player(request: web.Request) -> web.Response:
            raise web.HTTPFound("/player/")

        app.router.add_get("/", to_player)
    app.router.add_static("/", root, follow_symlinks=False)
    app.on_response_prepare.append(_headers)
    return app
