"""The sample library: index the committed sample media and write plans for two channels.

`samples/media/` (made by samples/make_media.sh) holds nine HLS VODs. This module indexes them
with the same parser that ingest uses, as if served from `base_url`, and writes a plan
directory: `sample-ts` loops three TS programs with a slate break, `sample-cmaf` loops an
fMP4 program with its slate, `sample-multi` loops two programs with English and French audio
and subtitles. Both plans loop forever from a fixed checkpoint, so the same
files serve a live channel at any date.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from engine.hls_vod import parse_vod, variant_urls
from engine.model import AssetIndex
from engine.plan_format import AssetIndexModel, ProfileEntryModel
from engine.profile import profile_of

REPO = Path(__file__).resolve().parent.parent
MEDIA_DIR = REPO / "samples" / "media"
PLANS_DIR = REPO / "samples" / "plans"
DEFAULT_BASE_URL = "http://127.0.0.1:8080/"
CHECKPOINT = datetime(2026, 1, 1, tzinfo=UTC)

TITLES = {
    "ts-alpha": "Program A",
    "ts-bravo": "Program B",
    "ts-charlie": "Program C",
    "cmaf-delta": "Program D",
    "slate-ts": "Slate",
    "slate-cmaf": "Slate",
    "multi-echo": "Program E",
    "multi-foxtrot": "Program F",
    "slate-multi": "Slate",
}
TRACKS = {
    "audio_tracks": [
        {"name": "audio-en", "language": "en", "label": "English", "default": True},
        {"name": "audio-fr", "language": "fr", "label": "Francais"},
    ],
    "subtitle_tracks": [
        {"name": "subs-en", "language": "en", "label": "English"},
        {"name": "subs-fr", "language": "fr", "label": "Francais"},
    ],
}
"""The tracks of the sample channel whose assets carry demuxed audio and subtitles."""


def index_local_vod(asset_id: str, media_dir: Path, base_url: str) -> AssetIndex:
    """Index `<media_dir>/<asset_id>/master.m3u8` as if served at `<base_url><asset_id>/`."""
    url = f"{base_url}{asset_id}/master.m3u8"

    def read(playlist_url: str) -> str:
        relative = playlist_url.removeprefix(base_url)
        return (media_dir / relative).read_text()

    top = read(url)
    texts = {url: top}
    for media_url in variant_urls(url, top):
        texts[media_url] = read(media_url)
    return parse_vod(asset_id, url, texts, title=TITLES.get(asset_id, asset_id))


def _profile(slate: AssetIndex) -> list[dict[str, object]]:
    """The slate's ladder; ffmpeg's master omits FRAME-RATE, the samples are 25 fps."""
    return [
        ProfileEntryModel.from_core(replace(entry, frame_rate=25.0)).model_dump()
        for entry in profile_of(slate)
    ]


def _plan(
    channel_id: str,
    name: str,
    slate: AssetIndex,
    filler: list[dict[str, object]],
    tracks: dict[str, object] | None = None,
) -> dict[str, object]:
    return {
        "channel": {
            "id": channel_id,
            "name": name,
            "target_duration": 2,
            "window_seconds": 24,
            "slate": slate.id,
            "profile": _profile(slate),
            **(tracks or {}),
        },
        "revision": 1,
        "checkpoint": {"time": CHECKPOINT.isoformat().replace("+00:00", "Z")},
        "filler": filler,
    }


def write_sample_plans(
    out: Path, base_url: str = DEFAULT_BASE_URL, media_dir: Path = MEDIA_DIR
) -> list[Path]:
    """Write the asset indexes and the sample plans; returns the files written."""
    assets = {asset_id: index_local_vod(asset_id, media_dir, base_url) for asset_id in TITLES}
    (out / "assets").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for asset in assets.values():
        path = out / "assets" / f"{asset.id}.json"
        model = AssetIndexModel.from_core(asset)
        path.write_text(model.model_dump_json(indent=1, exclude_none=True) + "\n")
        written.append(path)
    plans = {
        "sample-ts": _plan(
            "sample-ts",
            "Sample TS channel",
            assets["slate-ts"],
            [
                {"asset": "ts-alpha", "title": "Program A"},
                {"asset": "ts-bravo", "title": "Program B"},
                {"asset": "slate-ts", "title": "Break"},
                {"asset": "ts-charlie", "title": "Program C"},
            ],
        ),
        "sample-cmaf": _plan(
            "sample-cmaf",
            "Sample fMP4 channel",
            assets["slate-cmaf"],
            [
                {"asset": "cmaf-delta", "title": "Program D"},
                {"asset": "slate-cmaf", "title": "Break"},
            ],
        ),
        "sample-multi": _plan(
            "sample-multi",
            "Sample channel in two languages, with subtitles",
            assets["slate-multi"],
            [
                {"asset": "multi-echo", "title": "Program E"},
                {"asset": "multi-foxtrot", "title": "Program F"},
            ],
            TRACKS,
        ),
    }
    for channel_id, plan in plans.items():
        path = out / f"{channel_id}.json"
        path.write_text(json.dumps(plan, indent=1) + "\n")
        written.append(path)
    return written
