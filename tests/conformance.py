"""A live-HLS conformance checker of the project's own (RFC 8216 sections 4 and 6.2).

It parses playlists line by line, independently of the engine's renderer and of `m3u8`, and
checks each playlist, each reload against the previous one, and the variants of a channel
against each other. `watch()` fetches a channel over HTTP repeatedly and returns violations.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

import aiohttp

MEDIA_TAGS_ONCE = (
    "#EXT-X-TARGETDURATION",
    "#EXT-X-MEDIA-SEQUENCE",
    "#EXT-X-DISCONTINUITY-SEQUENCE",
    "#EXT-X-VERSION",
    "#EXT-X-INDEPENDENT-SEGMENTS",
)


@dataclass(frozen=True)
class Seg:
    msn: int
    dsn: int
    uri: str
    duration: float
    duration_text: str
    date: datetime | None


@dataclass
class Parsed:
    target_duration: int
    media_sequence: int
    discontinuity_sequence: int
    segments: list[Seg]
    violations: list[str] = field(default_factory=list)
    playlist_type: str | None = None
    """None for a sliding live window; EVENT for a start-over playlist."""
    ended: bool = False


def parse_media_playlist(text: str, where: str = "") -> Parsed:
    """Parse one media playlist, recording every single-playlist violation."""
    bad: list[str] = []
    lines = text.splitlines()
    if not lines or lines[0] != "#EXTM3U":
        bad.append("first line is not #EXTM3U (4.3.1.1)")
    if text.startswith("\ufeff") or any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        bad.append("BOM or control characters (4.1)")
    seen: dict[str, int] = {}
    target = media_seq = disc_seq = None
    version = 1
    segments: list[Seg] = []
    pending_disc = False
    pending_date: datetime | None = None
    pending_duration: tuple[float, str] | None = None
    any_uri = any_disc = ended = False
    playlist_type: str | None = None
    dsn = 0
    for line in lines[1:]:
        name = line.split(":", 1)[0]
        value = line.split(":", 1)[1] if ":" in line else ""
        if name in MEDIA_TAGS_ONCE:
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                bad.append(f"{name} appears twice (4.3.3)")
        if name == "#EXT-X-VERSION":
            version = int(value)
        elif name == "#EXT-X-TARGETDURATION":
            target = int(value)
        elif name == "#EXT-X-MEDIA-SEQUENCE":
            if any_uri:
                bad.append("MEDIA-SEQUENCE after the first segment (4.3.3.2)")
            media_seq = int(value)
        elif name == "#EXT-X-DISCONTINUITY-SEQUENCE":
            if any_uri or any_disc:
                bad.append("DISCONTINUITY-SEQUENCE after a segment or DISCONTINUITY (4.3.3.3)")
            disc_seq = int(value)
            dsn = disc_seq
        elif name == "#EXT-X-PLAYLIST-TYPE":
            playlist_type = value
            if value != "EVENT":
                bad.append(f"PLAYLIST-TYPE {value}: the engine serves live or EVENT (4.3.3.5)")
        elif name == "#EXT-X-ENDLIST":
            ended = True
            if playlist_type != "EVENT":
                bad.append("live playlist carries EXT-X-ENDLIST (6.2.2)")
        elif name == "#EXT-X-DISCONTINUITY":
            pending_disc = any_disc = True
        elif name == "#EXT-X-PROGRAM-DATE-TIME":
            pending_date = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif name == "#EXTINF":
            duration_text = value.split(",", 1)[0]
            pending_duration = (float(duration_text), duration_text)
            if "." in duration_text and version < 3:
                bad.append("floating-point EXTINF needs EXT-X-VERSION 3 or more (4.3.2.1)")
        elif line and not line.startswith("#"):
            any_uri = True
            if pending_duration is None:
                bad.append(f"segment {line} has no EXTINF (4.3.2.1)")
                continue
            dsn += pending_disc
            segments.append(
                Seg(
                    msn=(media_seq or 0) + len(segments),
                    dsn=dsn,
                    uri=line,
                    duration=pending_duration[0],
                    duration_text=pending_duration[1],
                    date=pending_date,
                )
            )
            pending_disc, pending_date, pending_duration = False, None, None
    if target is None or target < 1:
        bad.append("EXT-X-TARGETDURATION missing or below 1 (4.3.3.1)")
        target = 1
    if media_seq is None:
        bad.append("EXT-X-MEDIA-SEQUENCE missing on a sliding window (6.2.2)")
    for seg in segments:
        if math.floor(seg.duration + 0.5) > target:
            bad.append(f"EXTINF {seg.duration_text} rounds above TARGETDURATION {target} (4.3.3.1)")
        if seg.date is None:
            bad.append(f"segment {seg.msn} has no PROGRAM-DATE-TIME")
    if playlist_type is None and sum(s.duration for s in segments) < 3 * target:
        bad.append("playlist lasts less than three target durations (6.2.2)")
    if where:
        bad = [f"{where}: {b}" for b in bad]
    return Parsed(target, media_seq or 0, disc_seq or 0, segments, bad, playlist_type, ended)


def check_reload(previous: Parsed, current: Parsed, where: str = "") -> list[str]:
    """Rules across two successive fetches of one media playlist (RFC 8216 6.2.1, 6.2.2)."""
    bad = []
    if current.target_duration != previous.target_duration:
        bad.append("TARGETDURATION changed (6.2.1)")
    if current.media_sequence < previous.media_sequence:
        bad.append("MEDIA-SEQUENCE decreased (6.2.2)")
    if current.discontinuity_sequence < previous.discontinuity_sequence:
        bad.append("DISCONTINUITY-SEQUENCE decreased (6.2.2)")
    if previous.playlist_type == "EVENT":
        if current.playlist_type != "EVENT" or current.media_sequence != previous.media_sequence:
            bad.append("an EVENT playlist changed its type or removed segments (6.2.1)")
        if previous.ended and current.segments != previous.segments:
            bad.append("an ended EVENT playlist changed")
    before = {s.msn: s for s in previous.segments}
    common = [s for s in current.segments if s.msn in before]
    for seg in common:
        old = before[seg.msn]
        if (seg.uri, seg.duration_text) != (old.uri, old.duration_text):
            bad.append(f"segment {seg.msn} changed URI or duration (6.2.1, 6.3.4)")
        if seg.dsn != old.dsn:
            bad.append(f"segment {seg.msn} changed discontinuity number {old.dsn}->{seg.dsn}")
        if seg.date != old.date:
            bad.append(f"segment {seg.msn} changed PROGRAM-DATE-TIME")
    if common:
        removed = [s for s in previous.segments if s.msn < current.media_sequence]
        if current.media_sequence - previous.media_sequence != len(removed):
            bad.append("MEDIA-SEQUENCE did not rise by the number of segments removed (6.2.2)")
        if current.segments[-1].msn < previous.segments[-1].msn:
            bad.append("the playlist lost segments at its end")
    return [f"{where}: {b}" if where else b for b in bad]


def check_variants(playlists: dict[str, Parsed]) -> list[str]:
    """Variants fetched at the same instant agree on TD, and per MSN on DSN, date, duration."""
    bad = []
    items = list(playlists.items())
    name0, first = items[0]
    by_msn = {s.msn: s for s in first.segments}
    for name, other in items[1:]:
        if other.target_duration != first.target_duration:
            bad.append(f"{name} and {name0} have different TARGETDURATION (6.2.4)")
        for seg in other.segments:
            mine = by_msn.get(seg.msn)
            if mine is None:
                continue
            if (seg.dsn, seg.date, seg.duration_text) != (mine.dsn, mine.date, mine.duration_text):
                bad.append(f"{name} and {name0} disagree on segment {seg.msn} (6.2.4)")
    return bad


def check_freshness(parsed: Parsed, requested: datetime, where: str = "") -> list[str]:
    """RFC 8216 6.2.1: a live playlist gains a segment at least every 1.5 target durations.

    Measured in content time against the instant the request started, so a client that is
    slow to read the answer cannot make a fresh playlist look stale: the last listed segment
    must have ended no more than 1.5 x TARGETDURATION before the request.
    """
    if not parsed.segments or parsed.segments[-1].date is None:
        return []
    last = parsed.segments[-1]
    assert last.date is not None
    ended = last.date.timestamp() + last.duration
    behind = requested.timestamp() - ended
    if behind > 1.5 * parsed.target_duration:
        return [f"{where}: the newest segment ended {behind:.1f} s before the request (6.2.1)"]
    return []


def variant_uris(master_url: str, text: str) -> list[str]:
    lines = text.splitlines()
    if not lines or lines[0] != "#EXTM3U":
        raise AssertionError("multivariant playlist does not start with #EXTM3U")
    uris = []
    for index, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF:"):
            uris.append(urljoin(master_url, lines[index + 1]))
    return uris


@dataclass
class Report:
    violations: list[str] = field(default_factory=list)
    fetches: int = 0
    first_msn: int | None = None
    last_msn: int | None = None
    discontinuity_numbers: set[int] = field(default_factory=set)
    uris: set[str] = field(default_factory=set)

    @property
    def boundaries_crossed(self) -> int:
        """How many discontinuities (program boundaries) the watched window moved across."""
        return max(0, len(self.discontinuity_numbers) - 1)


async def watch(
    session: aiohttp.ClientSession,
    master_url: str,
    seconds: float,
    interval: float = 1.0,
    url_for: Callable[[str, int], str] | None = None,
    shift_s: float = 0,
) -> Report:
    """Fetch every variant of a channel every `interval` seconds for `seconds` seconds.

    url_for(url, fetch_number) may rewrite each request (for example to alternate replicas).
    shift_s: the playlists are time-shifted by this much (freshness is judged that far back).
    """
    report = Report()
    rewrite = url_for or (lambda url, _n: url)
    async with session.get(rewrite(master_url, 0)) as response:
        if response.status != 200:
            raise AssertionError(f"multivariant playlist answered {response.status}")
        variants = variant_uris(master_url, await response.text())
    previous: dict[str, Parsed] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        current: dict[str, Parsed] = {}
        for url in variants:
            requested = datetime.now(UTC) - timedelta(seconds=shift_s)
            async with session.get(rewrite(url, report.fetches)) as response:
                report.fetches += 1
                body = await response.text()
                if response.status != 200:
                    report.violations.append(f"{url}: status {response.status}: {body[:200]}")
                    continue
                if response.headers.get("Content-Type") != "application/vnd.apple.mpegurl":
                    report.violations.append(
                        f"{url}: Content-Type {response.headers.get('Content-Type')}"
                    )
            parsed = parse_media_playlist(body, url)
            report.violations.extend(parsed.violations)
            if url in previous:
                report.violations.extend(check_reload(previous[url], parsed, url))
            report.violations.extend(check_freshness(parsed, requested, url))
            current[url] = parsed
            report.uris.update(s.uri for s in parsed.segments)
            if parsed.segments:
                report.first_msn = (
                    parsed.segments[0].msn if report.first_msn is None else report.first_msn
                )
                report.last_msn = parsed.segments[-1].msn
                report.discontinuity_numbers.update(s.dsn for s in parsed.segments)
        if len(current) > 1:
            report.violations.extend(check_variants(current))
        previous.update(current)
        await asyncio.sleep(interval)
    return report
