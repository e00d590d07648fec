"""Turn the playlists of an HLS VOD into an AssetIndex. Pure: the caller fetches the texts.

Parsing uses the `m3u8` library (`m3u8.loads(text, uri=url)`, never the blocking `m3u8.load`).
It is lenient with what it accepts and strict about what the engine will need to emit: it
rejects, naming the rendition, a playlist that is not a finished VOD, has no segments, or whose
segment boundaries do not line up with the other renditions'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import m3u8

from engine.errors import PlanError
from engine.model import (
    BOUNDARY_TOLERANCE_US,
    SOURCE_MARKER_TAGS,
    US_PER_S,
    AssetIndex,
    ByteRange,
    Container,
    InitSection,
    Key,
    MediaTrack,
    Rendition,
    Segment,
    SegmentTable,
    SourceMarker,
    TrackType,
)


class VodError(PlanError):
    """An HLS VOD cannot become an asset; names the playlist or rendition and the reason."""


def variant_urls(url: str, text: str) -> list[str]:
    """The media playlist URLs a playlist refers to (variants, then the audio and subtitle
    renditions of EXT-X-MEDIA that have a URI): itself if it is a media playlist."""
    playlist = m3u8.loads(text, uri=url)
    if not playlist.is_variant:
        return [url]
    urls = [variant.absolute_uri for variant in playlist.playlists]
    for media in playlist.media:
        if media.type in TRACK_TYPES and media.uri and media.absolute_uri not in urls:
            urls.append(media.absolute_uri)
    return urls


TRACK_TYPES = {"AUDIO": TrackType.AUDIO, "SUBTITLES": TrackType.SUBTITLES}


def _tracks(top: Any, texts: Mapping[str, str]) -> list[MediaTrack]:
    """The demuxed audio and subtitle tracks of the groups that the variants refer to.

    VodError names the variant when a group it refers to is missing, or when variants refer
    to different groups of one type (the engine maps tracks by language, one group each).
    Audio renditions without a URI are carried in the variants themselves (muxed).
    """
    tracks: list[MediaTrack] = []
    taken: set[str] = set()
    for kind, attribute in (("AUDIO", "audio"), ("SUBTITLES", "subtitles")):
        groups = {getattr(v.stream_info, attribute) for v in top.playlists} - {None}
        for number, variant in enumerate(top.playlists):
            group = getattr(variant.stream_info, attribute)
            if group is not None and not any(
                m.type == kind and m.group_id == group for m in top.media
            ):
                raise VodError(
                    f"variant {number} ({variant.uri})",
                    attribute.upper(),
                    f"refers to {kind} group {group!r}, which no EXT-X-MEDIA defines",
                )
        if len(groups) > 1:
            raise VodError(
                "multivariant playlist",
                attribute.upper(),
                f"variants refer to different {kind} groups ({', '.join(sorted(groups))}); "
                "only one group of each type can be mapped to channel tracks",
            )
        for media in top.media:
            if media.type != kind or media.group_id not in groups or not media.uri:
                continue
            prefix = "audio" if kind == "AUDIO" else "subs"
            name = _slug(f"{prefix}-{media.language or 'und'}", taken)
            segments, _ = _segments(media.absolute_uri, texts[media.absolute_uri], name)
            tracks.append(
                MediaTrack(
                    type=TRACK_TYPES[kind],
                    name=name,
                    segments=segments,
                    language=media.language,
                    label=media.name or name,
                    default=media.default == "YES",
                )
            )
    return tracks


def _slug(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:50] or "track"
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    taken.add(name)
    return name


def _byterange(value: str | None, next_offset: int) -> ByteRange | None:
    """EXT-X-BYTERANGE 'n[@o]'; without o the range follows the previous one (4.3.2.2)."""
    if not value:
        return None
    length, _, offset = value.partition("@")
    return ByteRange(int(length), int(offset) if offset else next_offset)


def _segments(url: str, text: str, rendition: str) -> tuple[SegmentTable, bool]:
    playlist = m3u8.loads(text, uri=url)
    where = f"rendition {rendition!r} ({url})"
    if playlist.is_variant:
        raise VodError(where, "playlist", "is a multivariant playlist inside a multivariant one")
    if not playlist.is_endlist:
        raise VodError(where, "EXT-X-ENDLIST", "missing: only finished VOD playlists can be used")
    if not playlist.segments:
        raise VodError(where, "segments", "the playlist has no segments")
    segments: list[Segment] = []
    next_offset = 0
    for number, source in enumerate(playlist.segments):
        if source.duration is None or source.duration <= 0:
            raise VodError(where, f"segment {number}", "has no positive EXTINF duration")
        byterange = _byterange(source.byterange, next_offset)
        next_offset = byterange.offset + byterange.length if byterange else 0
        init = None
        if source.init_section is not None:
            init = InitSection(
                uri=source.init_section.absolute_uri,
                byterange=_byterange(source.init_section.byterange, 0),
            )
        key = None
        if source.key is not None and source.key.method and source.key.method != "NONE":
            key = Key(
                method=source.key.method,
                uri=source.key.absolute_uri if source.key.uri else None,
                iv=source.key.iv,
                keyformat=source.key.keyformat,
                keyformatversions=source.key.keyformatversions,
            )
        segments.append(
            Segment(
                uri=source.absolute_uri,
                duration_us=round(source.duration * US_PER_S),
                byterange=byterange,
                init=init,
                key=key,
                discontinuity=bool(source.discontinuity) and number > 0,
            )
        )
    return SegmentTable.of(segments), bool(playlist.is_independent_segments)


def source_markers(text: str) -> tuple[SourceMarker, ...]:
    """The ad marker lines of a media playlist, each with the segment it stands before
    (markers after the last segment are dropped: nothing follows them)."""
    found: list[SourceMarker] = []
    segment = 0
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("#"):
            segment += 1
        elif line.startswith(SOURCE_MARKER_TAGS):
            found.append(SourceMarker(segment, line))
    return tuple(marker for marker in found if marker.segment < segment)


def _rendition_name(stream_info: Any, index: int, taken: set[str]) -> str:
    resolution = getattr(stream_info, "resolution", None)
    name = f"{resolution[1]}p" if resolution else f"v{index}"
    if name in taken:
        name = f"{name}-{index}"
    taken.add(name)
    return name


def _check_alignment(renditions: list[Rendition]) -> None:
    reference = renditions[0]
    for rendition in renditions[1:]:
        if len(rendition.segments) != len(reference.segments):
            raise VodError(
                f"rendition {rendition.name!r}",
                "segments",
                f"has {len(rendition.segments)} segments and rendition {reference.name!r} has "
                f"{len(reference.segments)}: segment boundaries do not line up",
            )
        here = there = 0
        for number, (mine, theirs) in enumerate(
            zip(rendition.segments, reference.segments, strict=True)
        ):
            here += mine.duration_us
            there += theirs.duration_us
            if abs(here - there) > BOUNDARY_TOLERANCE_US:
                raise VodError(
                    f"rendition {rendition.name!r}",
                    f"segment {number}",
                    f"ends at {here / 1e6:.3f} s where rendition {reference.name!r} ends at "
                    f"{there / 1e6:.3f} s: segment boundaries do not line up",
                )
            if mine.discontinuity != theirs.discontinuity:
                raise VodError(
                    f"rendition {rendition.name!r}",
                    f"segment {number}",
                    "EXT-X-DISCONTINUITY differs from the other renditions",
                )


def parse_vod(
    asset_id: str,
    url: str,
    texts: Mapping[str, str],
    *,
    version: int = 1,
    title: str = "",
) -> AssetIndex:
    """Build the index of the VOD at `url`; `texts` maps each playlist URL to its text."""
    top = m3u8.loads(texts[url], uri=url)
    renditions: list[Rendition] = []
    independent = bool(top.is_independent_segments)
    taken: set[str] = set()
    if top.is_variant:
        if not top.playlists:
            raise VodError(f"asset at {url}", "playlist", "multivariant playlist has no variants")
        for index, variant in enumerate(top.playlists):
            info = variant.stream_info
            name = _rendition_name(info, index, taken)
            segments, media_independent = _segments(
                variant.absolute_uri, texts[variant.absolute_uri], name
            )
            independent = independent or media_independent
            renditions.append(
                Rendition(
                    name=name,
                    bandwidth=int(info.bandwidth),
                    segments=segments,
                    codecs=info.codecs,
                    resolution=tuple(info.resolution) if info.resolution else None,
                    frame_rate=float(info.frame_rate) if info.frame_rate else None,
                )
            )
    else:
        segments, independent = _segments(url, texts[url], "v0")
        # A bare media playlist states no BANDWIDTH: 0 means unknown.
        renditions.append(Rendition(name="v0", bandwidth=0, segments=segments))
    _check_alignment(renditions)
    tracks = _tracks(top, texts) if top.is_variant else []
    first_url = top.playlists[0].absolute_uri if top.is_variant else url
    markers = source_markers(texts[first_url])
    has_init = [r.segments[0].init is not None for r in renditions]
    if any(has_init) and not all(has_init):
        raise VodError(f"asset at {url}", "renditions", "mixes fMP4 and TS renditions")
    return AssetIndex(
        id=asset_id,
        version=version,
        url=url,
        container=Container.FMP4 if all(has_init) else Container.TS,
        independent_segments=independent,
        renditions=tuple(renditions),
        title=title,
        tracks=tuple(tracks),
        markers=markers,
    )
