"""What airs, read from the compiled timeline, and the guide formats built from it. No I/O.

Every time here is a real segment boundary of the timeline the engines play, so a guide
entry starts exactly where the program's first segment starts in the live playlist (its
EXT-X-PROGRAM-DATE-TIME), gaps included.
"""

from __future__ import annotations

import csv
import io
import re
import xml.etree.ElementTree as ET
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from common.text import attribute_safe, csv_safe, line_safe, xml_safe
from engine.model import US_PER_S, AssetIndex, AssetKey
from engine.timeline import GroupKind, Timeline


class AiringKind(StrEnum):
    PROGRAM = "program"
    FILLER = "filler"
    SLATE = "slate"


@dataclass(frozen=True, slots=True)
class Airing:
    """One asset on air from start_us to end_us (None: open-ended, the filler after the last
    program)."""

    kind: AiringKind
    start_us: int
    end_us: int | None
    asset: AssetIndex
    title: str
    event_id: str | None = None
    scheduled_start_us: int | None = None
    """Programs: the event's scheduled start (the program starts within half a segment)."""


def airings(timeline: Timeline, start_us: int, end_us: int) -> list[Airing]:
    """What airs between start_us and end_us, in order and uncut: each program once, filler
    and slate run by run, with back-to-back repeats of one asset merged."""
    start_us = max(start_us, timeline.start_us)
    found: list[Airing] = []
    slate = timeline.plan.channel.slate_key
    first = max(bisect_right(timeline.group_starts, start_us) - 1, 0)
    while first > 0 and timeline.groups[first].part > 0:
        first -= 1  # inside a program split by ad breaks: from its first part
    for index in range(first, len(timeline.groups)):
        group = timeline.groups[index]
        if group.start_us >= end_us:
            break
        if group.block_index is not None and not group.is_program_start:
            continue  # a later part or an ad break of a program listed once, whole
        program = timeline.block_groups(index) if group.is_program_start else (group,)
        group_end = program[-1].end_us
        if group_end is not None and group_end <= start_us:
            continue
        if group.is_program_start and group.block_index is not None:
            block = timeline.plan.blocks[group.block_index]
            asset = next(
                (g.runs[0].asset for g in program if g.kind is GroupKind.BLOCK),
                group.runs[0].asset,  # only a break aired: the next program cut it all
            )
            found.append(
                Airing(
                    AiringKind.PROGRAM,
                    group.start_us,
                    group_end,
                    asset,
                    block.clip.title or asset.title,
                    block.event_id,
                    block.start_us,
                )
            )
            continue
        if len(group.runs) == 1:  # one asset looped: a single airing for the whole gap
            asset = group.runs[0].asset
            kind = AiringKind.SLATE if asset.key == slate else AiringKind.FILLER
            _append(found, Airing(kind, group.start_us, group_end, asset, asset.title))
            continue
        cycle = max(0, (start_us - group.start_us) // group.period_us)
        while group.cycles is None or cycle < group.cycles:
            base = group.start_us + cycle * group.period_us
            if base >= end_us:
                break
            for run in group.runs:
                begin = base + run.rel_start_us
                finish = begin + run.duration_us
                if finish <= start_us or begin >= end_us:
                    continue
                kind = AiringKind.SLATE if run.asset.key == slate else AiringKind.FILLER
                _append(found, Airing(kind, begin, finish, run.asset, run.asset.title))
            cycle += 1
    return found


def _append(found: list[Airing], airing: Airing) -> None:
    last = found[-1] if found else None
    if (
        last is not None
        and last.kind is airing.kind
        and last.kind is not AiringKind.PROGRAM
        and last.asset.key == airing.asset.key
        and last.end_us == airing.start_us
    ):
        found[-1] = replace(last, end_us=airing.end_us)
    else:
        found.append(airing)


def programmes(
    timeline: Timeline, start_us: int, end_us: int, include_filler: bool
) -> list[Airing]:
    """Guide entries: programs, and (with include_filler) each stretch between programs as
    one filler entry (kind slate when only the slate plays there)."""
    entries: list[Airing] = []
    for airing in airings(timeline, start_us, end_us):
        if airing.kind is AiringKind.PROGRAM:
            entries.append(airing)
            continue
        if not include_filler:
            continue
        last = entries[-1] if entries else None
        if last is not None and last.kind is not AiringKind.PROGRAM:
            only_slate = last.kind is airing.kind is AiringKind.SLATE
            kind = AiringKind.SLATE if only_slate else AiringKind.FILLER
            entries[-1] = replace(last, end_us=airing.end_us, kind=kind)
        else:
            entries.append(airing)
    return entries


def clipped(airing: Airing, start_us: int, end_us: int) -> tuple[int, int]:
    """The part of an airing inside [start_us, end_us)."""
    stop = end_us if airing.end_us is None else min(airing.end_us, end_us)
    return max(airing.start_us, start_us), stop


def slate_per_hour(entries: Sequence[Airing], start_us: int, end_us: int) -> list[tuple[int, int]]:
    """(hour start, slate microseconds) for each hour from start_us until end_us."""
    hours = []
    hour = start_us
    while hour < end_us:
        until = min(hour + 3600 * US_PER_S, end_us)
        total = 0
        for entry in entries:
            if entry.kind is AiringKind.SLATE:
                begin, finish = clipped(entry, hour, until)
                total += max(0, finish - begin)
        hours.append((hour, total))
        hour += 3600 * US_PER_S
    return hours


# --- XMLTV --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ProgramInfo:
    """Asset metadata the guide shows."""

    description: str = ""
    genre: str = ""
    episode: str = ""
    rating: str = ""
    artwork_url: str | None = None


@dataclass(frozen=True, slots=True)
class GuideChannel:
    xmltv_id: str
    name: str
    artwork_url: str | None
    entries: Sequence[Airing]


def xmltv_time(instant_us: int) -> str:
    """XMLTV's 'YYYYMMDDhhmmss +0000' (whole seconds, rounded down)."""
    moment = datetime.fromtimestamp(instant_us // US_PER_S, UTC)
    return moment.strftime("%Y%m%d%H%M%S +0000")


_SEASON_EPISODE = re.compile(r"^\s*S(\d{1,4})\s*E(\d{1,5})\s*$", re.IGNORECASE)


def xmltv_document(
    channels: Iterable[GuideChannel],
    info: Mapping[AssetKey, ProgramInfo],
    generator: str = "vchannel",
) -> bytes:
    """An XMLTV document (it validates against xmltv.dtd; element order follows it)."""
    tv = ET.Element("tv", {"generator-info-name": generator})
    # Every text and attribute goes through xml_safe (common/text.py): whatever the store
    # holds, the document stays well-formed XML 1.0.
    x = xml_safe
    listed = list(channels)
    for channel in listed:
        element = ET.SubElement(tv, "channel", {"id": channel.xmltv_id})
        ET.SubElement(element, "display-name").text = x(channel.name)
        if channel.artwork_url:
            ET.SubElement(element, "icon", {"src": x(channel.artwork_url)})
    for channel in listed:
        for entry in channel.entries:
            attributes = {"start": xmltv_time(entry.start_us), "channel": channel.xmltv_id}
            if entry.end_us is not None:
                attributes["stop"] = xmltv_time(entry.end_us)
            programme = ET.SubElement(tv, "programme", attributes)
            ET.SubElement(programme, "title").text = x(entry.title or entry.asset.id)
            meta = info.get(entry.asset.key, ProgramInfo())
            if entry.kind is not AiringKind.PROGRAM:
                ET.SubElement(programme, "category").text = "Filler"
                continue
            if meta.description:
                ET.SubElement(programme, "desc").text = x(meta.description)
            if meta.genre:
                ET.SubElement(programme, "category").text = x(meta.genre)
            if entry.end_us is not None:
                length = ET.SubElement(programme, "length", {"units": "seconds"})
                length.text = str(round((entry.end_us - entry.start_us) / US_PER_S))
            if meta.artwork_url:
                ET.SubElement(programme, "icon", {"src": x(meta.artwork_url)})
            if meta.episode:
                numbers = _SEASON_EPISODE.match(meta.episode)
                if numbers:
                    season, episode = int(numbers[1]), int(numbers[2])
                    if season > 0 and episode > 0:
                        ns = ET.SubElement(programme, "episode-num", {"system": "xmltv_ns"})
                        ns.text = f"{season - 1}.{episode - 1}."
                onscreen = ET.SubElement(programme, "episode-num", {"system": "onscreen"})
                onscreen.text = x(meta.episode)
            if meta.rating:
                rating = ET.SubElement(programme, "rating")
                ET.SubElement(rating, "value").text = x(meta.rating)
    ET.indent(tv)
    body = ET.tostring(tv, encoding="unicode")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE tv SYSTEM "xmltv.dtd">\n' + body + "\n"
    ).encode()


# --- M3U ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    xmltv_id: str
    name: str
    logo: str | None
    group: str
    url: str


def _attribute(value: str) -> str:
    """M3U attributes are double-quoted on one line: no quotes or control characters inside
    (common/text.py), whatever the store holds."""
    return attribute_safe(value).strip()


def m3u_playlist(entries: Iterable[PlaylistEntry], guide_url: str) -> bytes:
    """An extended M3U channel list for IPTV players, with the guide URL in the header."""
    lines = [f'#EXTM3U url-tvg="{_attribute(guide_url)}" x-tvg-url="{_attribute(guide_url)}"']
    for entry in entries:
        attributes = [
            f'tvg-id="{_attribute(entry.xmltv_id)}"',
            f'tvg-name="{_attribute(entry.name)}"',
        ]
        if entry.logo:
            attributes.append(f'tvg-logo="{_attribute(entry.logo)}"')
        if entry.group:
            attributes.append(f'group-title="{_attribute(entry.group)}"')
        name = line_safe(entry.name).strip()
        lines.append(f"#EXTINF:-1 {' '.join(attributes)},{name}")
        lines.append(_attribute(entry.url))
    return ("\n".join(lines) + "\n").encode()


# --- as-run -------------------------------------------------------------------------------
AS_RUN_COLUMNS = (
    "kind",
    "event_id",
    "asset_id",
    "asset_version",
    "title",
    "start",
    "end",
    "duration_seconds",
    "slate_seconds",
)


def as_run_csv(rows: Iterable[Mapping[str, object]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, AS_RUN_COLUMNS, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:  # no cell a spreadsheet would run as a formula (common/text.py)
        writer.writerow({name: csv_safe(value) for name, value in row.items()})
    return out.getvalue().encode()
