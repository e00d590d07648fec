"""WebVTT subtitle playlists of a channel, laid on its video timeline. Pure, no I/O.

A subtitle segment of an asset may span several video segments, but it starts and ends on
video segment boundaries (AssetIndex checks that). On the channel, every run of video
segments (a program, a part of one between ad breaks, a slate or filler loop) is covered by
subtitle segments cut at the run's edges: a subtitle segment that a clip or a break cuts is
listed with the duration that airs. Where an asset has no subtitles in the track's language
(the slate, always), every video segment gets the engine's own empty WebVTT segment.

So the subtitle playlist has its own media sequence numbers (one per subtitle segment), but
the same dates and discontinuity numbers as the video at every instant: a player switching
subtitles on finds the cues of the program on screen.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from itertools import pairwise

from common.instants import format_date
from engine.errors import NotOnAir
from engine.model import US_PER_S, AssetIndex
from engine.render import format_duration, media_playlist_head
from engine.timeline import Group, Timeline
from engine.window import discontinuity_sequence, latest

EMPTY_WEBVTT = b"WEBVTT\n\n"
"""The segment the engine serves where no subtitles air: a WebVTT file without cues."""


@dataclass(frozen=True, slots=True)
class TextSegment:
    """One listed subtitle segment; uri None means the engine's empty WebVTT segment."""

    media_sequence: int
    start_us: int
    duration_us: int
    discontinuity_sequence: int
    discontinuity: bool
    uri: str | None

    @property
    def end_us(self) -> int:
        return self.start_us + self.duration_us


@dataclass(frozen=True, slots=True)
class _Entry:
    """A subtitle segment within one cycle of a group."""

    rel_start_us: int
    duration_us: int
    run: int
    asset: AssetIndex
    track: int | None
    segment: int
    """The subtitle segment's index in the asset's track (unused when track is None)."""
    opens_run: bool


@dataclass(frozen=True, slots=True)
class _Layout:
    group: Group
    media_sequence: int
    entries: tuple[_Entry, ...]
    starts: tuple[int, ...]


def _entries(timeline: Timeline, group: Group, track_number: int) -> tuple[_Entry, ...]:
    entries: list[_Entry] = []
    for run_index, run in enumerate(group.runs):
        asset = run.asset
        track = timeline.subtitles[asset.key][track_number]
        first, end = run.first_segment, run.first_segment + run.count
        prefix = asset.prefix_us
        if track is None:
            cuts = list(range(first, end + 1))
            starts: tuple[int, ...] = ()
        else:
            starts = asset.track_starts[track]
            cuts = [first, *(s for s in starts if first < s < end), end]
        for a, b in pairwise(cuts):
            entries.append(
                _Entry(
                    rel_start_us=run.rel_start_us + prefix[a] - prefix[first],
                    duration_us=prefix[b] - prefix[a],
                    run=run_index,
                    asset=asset,
                    track=track,
                    segment=0 if track is None else bisect_right(starts, a) - 1,
                    opens_run=a == first,
                )
            )
    return tuple(entries)


class SubtitleTimeline:
    """The subtitle segments of one of a channel's subtitle tracks (by media sequence)."""

    def __init__(self, timeline: Timeline, track_number: int) -> None:
        self.timeline = timeline
        self.track_number = track_number
        layouts = []
        spec = timeline.plan.channel
        media_sequence = timeline.plan.checkpoint.subtitle_sequence(
            spec.subtitle_tracks[track_number].name
        )
        self.first_media_sequence = media_sequence
        for group in timeline.groups:
            entries = _entries(timeline, group, track_number)
            layouts.append(
                _Layout(group, media_sequence, entries, tuple(e.rel_start_us for e in entries))
            )
            if group.cycles is not None:
                media_sequence += group.cycles * len(entries)
        self.layouts = tuple(layouts)
        self.layout_msns = tuple(layout.media_sequence for layout in layouts)
        self.target_duration_s = spec.subtitle_target_duration_s
        self.window_us = max(spec.window_us, 3 * spec.subtitle_target_duration_s * US_PER_S)

    def segment(self, media_sequence: int) -> TextSegment:
        layout = self.layouts[bisect_right(self.layout_msns, media_sequence) - 1]
        group = layout.group
        cycle, offset = divmod(media_sequence - layout.media_sequence, len(layout.entries))
        entry = layout.entries[offset]
        run = group.runs[entry.run]
        if not entry.opens_run:
            discontinuity = False
        elif entry.run > 0:
            discontinuity = run.discontinuity
        else:
            discontinuity = group.first_discontinuity if cycle == 0 else group.wrap_discontinuity
        uri = None
        if entry.track is not None:
            uri = entry.asset.tracks[entry.track].segments.uri(entry.segment)
        return TextSegment(
            media_sequence=media_sequence,
            start_us=group.start_us + cycle * group.period_us + entry.rel_start_us,
            duration_us=entry.duration_us,
            discontinuity_sequence=group.discontinuity_sequence
            + cycle * group.dsn_step
            + run.rel_dsn,
            discontinuity=discontinuity,
            uri=uri,
        )

    def media_sequence_at(self, instant_us: int) -> int:
        """The subtitle segment airing at an instant (at or after the checkpoint)."""
        timeline = self.timeline
        index = bisect_right(timeline.group_starts, instant_us) - 1
        layout = self.layouts[index]
        group = layout.group
        cycle, offset_us = divmod(instant_us - group.start_us, group.period_us)
        within = bisect_right(layout.starts, offset_us) - 1
        return layout.media_sequence + cycle * len(layout.entries) + within

    def first_media_sequence_of(self, group_index: int) -> int:
        return self.layouts[group_index].media_sequence

    def live(self, now_us: int) -> tuple[tuple[TextSegment, ...], int]:
        """The segments listed at now_us (those ended by then, the latest that last at
        least the window) and the instant the listing changes; NotOnAir before a full one."""
        if now_us < self.timeline.start_us:
            raise NotOnAir("the channel has not started", until_us=self.timeline.start_us)
        airing = self.segment(self.media_sequence_at(now_us))
        listed, total = latest(
            self.segment, airing.media_sequence - 1, self.first_media_sequence, self.window_us
        )
        if total < self.window_us:
            raise NotOnAir(
                "the channel's subtitles have no full window yet",
                until_us=now_us + self.window_us - total,
            )
        return tuple(listed), airing.end_us

    def program(
        self, first_group: int, last_group: int, now_us: int
    ) -> tuple[tuple[TextSegment, ...], int, bool]:
        """Start-over: the segments of the program made of groups[first_group..last_group]
        ended by now_us, the instant the listing changes, and whether the program ended."""
        first = self.layouts[first_group].media_sequence
        last_layout = self.layouts[last_group]
        cycles = last_layout.group.cycles
        end = (
            None
            if cycles is None
            else last_layout.media_sequence + cycles * len(last_layout.entries)
        )
        airing = self.media_sequence_at(now_us)
        stop = airing if end is None else min(airing, end)
        listed = tuple(self.segment(msn) for msn in range(first, stop))
        if not listed:
            start = self.segment(first)
            raise NotOnAir("the program's first subtitle segment has not ended", start.end_us)
        ended = end is not None and stop == end
        next_change = listed[-1].end_us if ended else self.segment(stop).end_us
        return listed, next_change, ended


def render_subtitle_playlist(
    subtitles: SubtitleTimeline,
    segments: tuple[TextSegment, ...],
    empty_uri: str,
    *,
    event: bool = False,
    ended: bool = False,
) -> bytes:
    """A WebVTT media playlist (RFC 8216 3.5) for listed subtitle segments."""
    first = segments[0]
    lines = media_playlist_head(
        subtitles.timeline.version,
        subtitles.target_duration_s,
        first.media_sequence,
        discontinuity_sequence(first),
        event=event,
    )
    for segment in segments:
        if segment.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")  # 4.3.2.3
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_date(segment.start_us)}")  # 4.3.2.6
        lines.append(f"#EXTINF:{format_duration(segment.duration_us)},")  # 4.3.2.1
        lines.append(segment.uri or empty_uri)
    if ended:
        lines.append("#EXT-X-ENDLIST")  # 4.3.3.4
    lines.append("")
    return "\n".join(lines).encode()
