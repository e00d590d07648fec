"""Playlist text for a window (RFC 8216). Pure: same inputs, same bytes.

Strict on output: every tag is written in the form and order the RFC gives, the target duration
and EXT-X-VERSION are fixed per channel (not per window), and no live playlist carries
EXT-X-PLAYLIST-TYPE or EXT-X-ENDLIST (6.2.2).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime

from common.instants import format_date, to_us
from common.text import attribute_safe
from engine.model import (
    US_PER_S,
    ByteRange,
    Channel,
    InitSection,
    Key,
    ProfileEntry,
    SegmentTable,
    SourceMarkers,
    SpliceCommand,
    TrackSpec,
)
from engine.scte35 import as_base64, as_hex, splice_info_section
from engine.timeline import AdBreak, Slot, Timeline
from engine.window import Window

PASS = SourceMarkers.PASS


@functools.lru_cache(maxsize=4096)
def format_duration(duration_us: int) -> str:
    """Seconds with at least three decimals: 2000000 -> '2.000', 2002002 -> '2.002002'."""
    whole, fraction = divmod(duration_us, US_PER_S)
    digits = f"{fraction:06d}".rstrip("0").ljust(3, "0")
    return f"{whole}.{digits}"


def _quoted(value: str) -> str:
    """An RFC 8216 4.2 quoted-string: whatever the plan holds, no `"`, CR or LF gets in."""
    return '"' + attribute_safe(value) + '"'


def _byterange(value: ByteRange) -> str:
    return f"{value.length}@{value.offset}"


def _key_tag(key: Key | None) -> str:
    """EXT-X-KEY (RFC 8216 4.3.2.4); METHOD=NONE ends the previous key."""
    if key is None:
        return "#EXT-X-KEY:METHOD=NONE"
    attributes = [f"METHOD={key.method}"]
    if key.uri is not None:
        attributes.append(f"URI={_quoted(key.uri)}")
    if key.iv is not None:
        attributes.append(f"IV={key.iv}")
    if key.keyformat is not None:
        attributes.append(f"KEYFORMAT={_quoted(key.keyformat)}")
    if key.keyformatversions is not None:
        attributes.append(f"KEYFORMATVERSIONS={_quoted(key.keyformatversions)}")
    return "#EXT-X-KEY:" + ",".join(attributes)


def _map_tag(init: InitSection) -> str:
    """EXT-X-MAP (RFC 8216 4.3.2.5)."""
    tag = f"#EXT-X-MAP:URI={_quoted(init.uri)}"
    if init.byterange is not None:
        tag += f",BYTERANGE={_quoted(_byterange(init.byterange))}"
    return tag


SegmentText = Callable[[Slot, Slot | None, int], str]
"""(slot, the slot listed before it or None when it is listed first, variant) -> its lines."""


def segment_text(timeline: Timeline, slot: Slot, previous: Slot | None, variant: int) -> str:
    """The tags and URI of one listed segment, ending with a newline.

    Depends only on the segment, the one listed before it and the variant, so a caller may
    cache it per media sequence number: a segment's text never changes (RFC 8216 6.2.1).
    Reads the asset's segment table field by field (no Segment is built: this runs for
    every segment that joins a window).
    """
    table = _table(timeline, slot, variant)
    index = slot.segment
    key, init = table.key_at(index), table.init_at(index)
    lines = []
    if slot.discontinuity:
        lines.append("#EXT-X-DISCONTINUITY")  # 4.3.2.3
    if timeline.breaks:
        lines.extend(ad_marker_lines(timeline, slot, previous is None))
    if slot.asset.markers_at and timeline.plan.channel.ad_markers.source_markers is PASS:
        lines.extend(source_marker_lines(slot))
    # A key and an init section are re-stated after every discontinuity, so that a client
    # joining there never inherits them from another asset (4.3.2.4, 4.3.2.5).
    restate = previous is None or slot.discontinuity
    if previous is None:
        key_before = init_before = None
    else:
        before = _table(timeline, previous, variant)
        key_before, init_before = before.key_at(previous.segment), before.init_at(previous.segment)
    if key != key_before or (restate and key is not None):
        lines.append(_key_tag(key))
    if init is not None and (restate or init != init_before):
        lines.append(_map_tag(init))
    lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_date(slot.start_us)}")  # 4.3.2.6
    lines.append(f"#EXTINF:{format_duration(slot.duration_us)},")  # 4.3.2.1
    if table.byteranges is not None:
        lengths, offsets = table.byteranges
        lines.append(f"#EXT-X-BYTERANGE:{lengths[index]}@{offsets[index]}")  # 4.3.2.2
    lines.append(table.uri(index))
    lines.append("")
    return "\n".join(lines)


def _table(timeline: Timeline, slot: Slot, variant: int) -> SegmentTable:
    return timeline.tables[slot.asset.key][variant]


def _daterange(ad: AdBreak, command: SpliceCommand, out: bool) -> str:
    """EXT-X-DATERANGE of an ad break (RFC 8216 4.3.2.7, SCTE-35 mapping 4.3.2.7.1).

    Both tags of a break share ID and START-DATE; the OUT adds PLANNED-DURATION and
    SCTE35-OUT, the IN (written once the break has ended) DURATION and SCTE35-IN, so no
    attribute ever takes two values. The OUT depends only on the break as planned, never on
    what the schedule does later.
    """
    section = splice_info_section(command, ad.splice_event_id, out, ad.planned_duration_us)
    head = f'#EXT-X-DATERANGE:ID="{ad.id}",START-DATE="{format_date(ad.start_us)}"'
    if out:
        planned = format_duration(ad.planned_duration_us)
        return f"{head},PLANNED-DURATION={planned},SCTE35-OUT={as_hex(section)}"
    return f"{head},DURATION={format_duration(ad.duration_us)},SCTE35-IN={as_hex(section)}"


_DATERANGE = "#EXT-X-DATERANGE:"
_ATTRIBUTE = re.compile(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)')


def _instant_us(value: str) -> int | None:
    try:
        moment = datetime.fromisoformat(value.strip('"'))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return to_us(moment)


def _redated(slot: Slot, tag: str) -> str | None:
    """A source EXT-X-DATERANGE as it airs: START-DATE is the airing of the segment where
    the source first states this ID, END-DATE moves with it, and the ID gains that instant
    (Unix ms), so that every airing of the asset has its own date range and the tags of one
    airing agree on every attribute (RFC 8216 4.3.2.7). None: no usable ID."""
    attributes = _ATTRIBUTE.findall(tag[len(_DATERANGE) :])
    values = dict(attributes)
    source_id = values.get("ID", "").strip('"')
    if not source_id:
        return None
    asset = slot.asset
    anchor = next(
        (
            m.segment
            for m in asset.markers
            if m.tag.startswith(_DATERANGE)
            and dict(_ATTRIBUTE.findall(m.tag[len(_DATERANGE) :])).get("ID", "").strip('"')
            == source_id
        ),
        slot.segment,
    )
    prefix = asset.prefix_us
    aired = slot.start_us - (prefix[slot.segment] - prefix[anchor])
    start = _instant_us(values.get("START-DATE", ""))
    end = _instant_us(values.get("END-DATE", ""))
    rewritten = []
    for name, value in attributes:
        if name == "ID":
            value = _quoted(f"{source_id}-{aired // 1000}")
        elif name == "START-DATE":
            value = _quoted(format_date(aired))
        elif name == "END-DATE":
            if start is None or end is None:
                continue
            value = _quoted(format_date(aired + end - start))
        rewritten.append(f"{name}={value}")
    if "START-DATE" not in values:
        rewritten.append(f"START-DATE={_quoted(format_date(aired))}")
    return _DATERANGE + ",".join(rewritten)


def source_marker_lines(slot: Slot) -> list[str]:
    """The source VOD's ad markers before this segment: CUE and SCTE-35 tags as they are,
    EXT-X-DATERANGE re-dated to this airing."""
    lines = []
    for marker in slot.asset.markers_at.get(slot.segment, ()):
        if marker.tag.startswith(_DATERANGE):
            redated = _redated(slot, marker.tag)
            if redated is not None:
                lines.append(redated)
        else:
            lines.append(marker.tag)
    return lines


def ad_marker_lines(timeline: Timeline, slot: Slot, listed_first: bool) -> list[str]:
    """The ad break tags before a segment: the IN of a break that ends where the segment
    starts, the OUT of a break that starts there (or is under way when the segment is listed
    first, so that a client joining mid-break learns of it), and with the channel's cue_tags
    EXT-X-CUE-IN, EXT-X-CUE-OUT and EXT-X-CUE-OUT-CONT (elapsed and planned seconds)."""
    markers = timeline.plan.channel.ad_markers
    lines = []
    ended = timeline.ad_break_ending(slot.start_us)
    if ended is not None:
        lines.append(_daterange(ended, markers.splice_command, out=False))
        if markers.cue_tags:
            lines.append("#EXT-X-CUE-IN")
    ad = timeline.ad_break_at(slot.start_us)
    if ad is not None:
        starts = ad.start_us == slot.start_us
        if starts or listed_first:
            lines.append(_daterange(ad, markers.splice_command, out=True))
        if markers.cue_tags:
            planned = format_duration(ad.planned_duration_us)
            if starts:
                lines.append(f"#EXT-X-CUE-OUT:{planned}")
            else:
                section = splice_info_section(
                    markers.splice_command, ad.splice_event_id, True, ad.planned_duration_us
                )
                lines.append(
                    f"#EXT-X-CUE-OUT-CONT:ElapsedTime="
                    f"{format_duration(slot.start_us - ad.start_us)},Duration={planned},"
                    f"SCTE35={as_base64(section)}"
                )
    return lines


def media_playlist_head(
    version: int,
    target_duration_s: int,
    media_sequence: int,
    discontinuity_sequence: int,
    *,
    event: bool = False,
    independent: bool = False,
) -> list[str]:
    """The tags that open a live (or, with `event`, start-over) media playlist."""
    lines = [
        "#EXTM3U",  # 4.3.1.1
        f"#EXT-X-VERSION:{version}",  # 4.3.1.2, version table in section 7
        f"#EXT-X-TARGETDURATION:{target_duration_s}",  # 4.3.3.1, constant (6.2.1)
        f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}",  # 4.3.3.2
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}",  # 4.3.3.3
    ]
    if event:
        lines.append("#EXT-X-PLAYLIST-TYPE:EVENT")  # 4.3.3.5
    if independent:
        lines.append("#EXT-X-INDEPENDENT-SEGMENTS")  # 4.3.5.1
    return lines


def render_media_playlist(
    timeline: Timeline,
    window: Window,
    variant: int,
    text: SegmentText | None = None,
    *,
    event: bool = False,
    ended: bool = False,
) -> bytes:
    """The media playlist of profile entry `variant` for a window.

    `text` renders one segment (default: segment_text); the engine passes a caching one.
    `event`: a start-over playlist that only grows (EXT-X-PLAYLIST-TYPE:EVENT); `ended`:
    it is complete (EXT-X-ENDLIST).
    """
    lines = media_playlist_head(
        timeline.version,
        timeline.plan.channel.target_duration_s,
        window.media_sequence,
        window.discontinuity_sequence,
        event=event,
        independent=timeline.independent_segments,
    )
    lines.append("")
    parts = ["\n".join(lines)]
    previous: Slot | None = None
    for slot in window.slots:
        if text is None:
            parts.append(segment_text(timeline, slot, previous, variant))
        else:
            parts.append(text(slot, previous, variant))
        previous = slot
    if ended:
        parts.append("#EXT-X-ENDLIST\n")  # 4.3.3.4
    return "".join(parts).encode()


def variant_bandwidth(timeline: Timeline, variant: int) -> int:
    """BANDWIDTH for a variant: the profile's, or more if a mapped rendition peaks higher."""
    entry = timeline.plan.channel.profile[variant]
    peak = entry.bandwidth
    for asset in {slot_asset for g in timeline.groups for slot_asset in (r.asset for r in g.runs)}:
        rendition = asset.renditions[timeline.renditions[asset.key][variant]]
        peak = max(peak, rendition.bandwidth)
    return peak


AUDIO_GROUP = "audio"
SUBTITLE_GROUP = "subs"


def _stream_inf(entry: ProfileEntry, bandwidth: int, channel: Channel) -> str:
    """EXT-X-STREAM-INF (RFC 8216 4.3.4.2)."""
    attributes = [f"BANDWIDTH={bandwidth}", f"CODECS={_quoted(entry.codecs)}"]
    if entry.resolution is not None:
        attributes.append(f"RESOLUTION={entry.resolution[0]}x{entry.resolution[1]}")
    if entry.frame_rate is not None:
        attributes.append(f"FRAME-RATE={entry.frame_rate:.3f}")
    if channel.audio_tracks:
        attributes.append(f"AUDIO={_quoted(AUDIO_GROUP)}")
    if channel.subtitle_tracks:
        attributes.append(f"SUBTITLES={_quoted(SUBTITLE_GROUP)}")
    return "#EXT-X-STREAM-INF:" + ",".join(attributes)


def _media_tag(kind: str, group: str, track: TrackSpec, uri: str, default: bool) -> str:
    """EXT-X-MEDIA (RFC 8216 4.3.4.1): AUTOSELECT=YES lets a player pick by language."""
    return (
        f"#EXT-X-MEDIA:TYPE={kind},GROUP-ID={_quoted(group)},LANGUAGE={_quoted(track.language)},"
        f"NAME={_quoted(track.label)},DEFAULT={'YES' if default else 'NO'},AUTOSELECT=YES,"
        f"URI={_quoted(uri)}"
    )


def render_multivariant_playlist(timeline: Timeline, variant_uri: Callable[[str], str]) -> bytes:
    """The multivariant (master) playlist; variant_uri maps a variant or track name to its
    URI. Audio tracks form one group (one is DEFAULT: the declared default, else the first),
    subtitle tracks another (DEFAULT only when declared, so subtitles start off)."""
    channel = timeline.plan.channel
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{timeline.version}"]
    audio_default = next((t for t in channel.audio_tracks if t.default), None)
    for number, track in enumerate(channel.audio_tracks):
        default = track is audio_default or (audio_default is None and number == 0)
        lines.append(_media_tag("AUDIO", AUDIO_GROUP, track, variant_uri(track.name), default))
    for track in channel.subtitle_tracks:
        lines.append(
            _media_tag("SUBTITLES", SUBTITLE_GROUP, track, variant_uri(track.name), track.default)
        )
    for index, entry in enumerate(channel.profile):
        lines.append(_stream_inf(entry, variant_bandwidth(timeline, index), channel))
        lines.append(variant_uri(entry.name))
    lines.append("")
    return "\n".join(lines).encode()
