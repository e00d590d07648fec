"""The channels an engine serves, with a render cache. Adapter-side state, but no I/O and no
clock: every method takes `now_us` (microseconds since the epoch).

Per channel the engine keeps only its compiled timeline (the plan laid out against the shared
asset indexes). Rendered playlists live in one least-recently-used cache for all channels,
within a byte budget: an entry is one window (live, time-shifted or start-over) of one
channel with its renderings per variant, and a request in the same window costs a dict lookup
and a comparison. When a window slides, the new one reuses the old one's segments and texts,
so it renders only the segment that joined. An evicted or stale entry is simply rendered
again: playlists are a pure function of (timeline, now).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from common.errors import VChannelError
from engine.errors import BadRequest, NotFound, NotOnAir
from engine.model import US_PER_S
from engine.render import render_media_playlist, render_multivariant_playlist, segment_text
from engine.subtitles import SubtitleTimeline, render_subtitle_playlist
from engine.timeline import Group, Slot, Timeline
from engine.window import Window, live_window, program_window

DEFAULT_CACHE_BYTES = 256 * 1_048_576
"""Render cache budget unless told otherwise (RENDER_CACHE_MB)."""
FOREVER_US = 2**62
EMPTY_WEBVTT_PATH = "/live/empty.vtt"
"""Where the engine serves its empty WebVTT segment (root-relative: the same for every
form of playlist URL)."""
SLOT_BYTES = 400
"""What a memoised Slot costs in memory, about (the object and its dict entry)."""
ENTRY_BYTES = 1_000
"""What an entry costs besides its texts and playlists, about."""

WindowKey = tuple[str, bool, int]
"""(channel id, start-over, value): a live or time-shifted window by its shift in
microseconds (0: live), or a start-over window by its program's start (Unix ms)."""


@dataclass(frozen=True, slots=True)
class Rendered:
    """A playlist body and its strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Rendered:
        return cls(body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')


@dataclass(slots=True)
class _CachedWindow:
    """One window of one channel, with its renderings per variant."""

    timeline: Timeline
    window: Window
    valid_from_us: int
    valid_until_us: int
    ended: bool = False
    playlist_event: bool = False
    media: dict[int, Rendered] = field(default_factory=dict)
    texts: dict[tuple[int, int, bool], str] = field(default_factory=dict)
    """Segment texts by (media sequence, variant, first listed), carried to the next window
    of the same key so that a slide renders only the new segment."""
    size: int = 0

    def measure(self) -> int:
        return (
            ENTRY_BYTES
            + SLOT_BYTES * len(self.window.slots)
            + sum(len(text) + 100 for text in self.texts.values())
            + sum(len(r.body) + 100 for r in self.media.values())
        )

    def render(self, variant: int) -> bytes:
        timeline = self.timeline

        def text(slot: Slot, previous: Slot | None, variant: int) -> str:
            key = (slot.media_sequence, variant, previous is None)
            found = self.texts.get(key)
            if found is None:
                found = self.texts[key] = segment_text(timeline, slot, previous, variant)
            return found

        return render_media_playlist(
            timeline, self.window, variant, text, event=self.playlist_event, ended=self.ended
        )


class RenderCache:
    """Windows of every channel, least recently used first, within `budget_bytes`.

    Sizes are estimates (texts and playlist bytes plus a fixed cost per slot and entry); the
    entry in use is never evicted, so one oversized window still works.
    """

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self.bytes = 0
        self.evictions = 0
        self._entries: OrderedDict[WindowKey, _CachedWindow] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: WindowKey) -> _CachedWindow | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: WindowKey, entry: _CachedWindow) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self.bytes -= old.size
        self._entries[key] = entry
        entry.size = entry.measure()
        self.bytes += entry.size
        self._evict()

    def resize(self, entry: _CachedWindow) -> None:
        """Account for what was added to an entry (a variant rendered)."""
        size = entry.measure()
        self.bytes += size - entry.size
        entry.size = size
        self._evict()

    def _evict(self) -> None:
        while self.bytes > self.budget_bytes and len(self._entries) > 1:
            _, oldest = self._entries.popitem(last=False)
            self.bytes -= oldest.size
            self.evictions += 1


@dataclass(slots=True)
class _Channel:
    """What the engine keeps per channel: its timeline, and the multivariant playlist (one
    rendering per URI style), which changes only with the plan."""

    timeline: Timeline
    variants: dict[str, int]
    """Media playlists by name: the profile's variants, then the audio tracks."""
    text_tracks: dict[str, int]
    """Subtitle tracks by name: their number in the channel's subtitle_tracks."""
    multivariant: dict[str, Rendered] = field(default_factory=dict)
    subtitles: dict[int, SubtitleTimeline] = field(default_factory=dict)
    """Laid out on the first request for the track (most channels have none)."""

    @classmethod
    def of(cls, timeline: Timeline) -> _Channel:
        channel = timeline.plan.channel
        names = [entry.name for entry in channel.profile]
        names.extend(track.name for track in channel.audio_tracks)
        return cls(
            timeline,
            {name: i for i, name in enumerate(names)},
            {track.name: i for i, track in enumerate(channel.subtitle_tracks)},
        )

    def subtitle_timeline(self, number: int) -> SubtitleTimeline:
        found = self.subtitles.get(number)
        if found is None:
            found = self.subtitles[number] = SubtitleTimeline(self.timeline, number)
        return found


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """A rendered media playlist, the instant it stops being current, and whether it was cached."""

    rendered: Rendered
    valid_until_us: int
    cache_hit: bool
    target_duration_s: int
    ended: bool = False
    """Complete (EXT-X-ENDLIST): an ended start-over program, never to change again."""


def _before_history(error: NotOnAir, now_us: int, shift_us: int) -> VChannelError:
    """What a window that is not on air yet means: live, just that (503 with Retry-After);
    shifted, a shift that reaches before the channel's history (400 naming `seconds`)."""
    if not shift_us:
        return error
    return BadRequest(
        "seconds",
        f"reaches before the channel's history; at most "
        f"{max(0, now_us - error.until_us) // US_PER_S} now",
    )


class Channels:
    """Compiled timelines by channel id; `replace` swaps them all at once."""

    def __init__(
        self,
        timelines: Mapping[str, Timeline] | None = None,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._channels: dict[str, _Channel] = {}
        self.cache = RenderCache(cache_bytes)
        self.replace(timelines or {})

    def replace(self, timelines: Mapping[str, Timeline]) -> None:
        """Serve these timelines from now on. Cached windows of a changed channel are
        stale from then on (they name their timeline) and age out of the cache."""
        channels = {}
        for channel_id, timeline in timelines.items():
            old = self._channels.get(channel_id)
            if old is not None and old.timeline is timeline:
                channels[channel_id] = old
                continue
            channels[channel_id] = _Channel.of(timeline)
        self._channels = channels

    def update(self, changed: Mapping[str, Timeline], removed: Iterable[str] = ()) -> None:
        """Serve new timelines for the `changed` channels and stop serving `removed` ones;
        the others are not touched (cost: the number of changes, not of channels)."""
        for channel_id, timeline in changed.items():
            self._channels[channel_id] = _Channel.of(timeline)
        for channel_id in removed:
            self._channels.pop(channel_id, None)

    def __len__(self) -> int:
        return len(self._channels)

    def ids(self) -> list[str]:
        return sorted(self._channels)

    def _get(self, channel_id: str) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise NotFound(None, f"channel {channel_id!r} does not exist")
        return channel

    def _variant(self, channel_id: str, channel: _Channel, variant_name: str) -> int:
        variant = channel.variants.get(variant_name)
        if variant is None:
            raise NotFound(
                None,
                f"channel {channel_id!r} has no variant or track {variant_name!r} "
                f"(it has {', '.join([*channel.variants, *channel.text_tracks])})",
            )
        return variant

    def _subtitles(
        self, channel: _Channel, number: int, at_us: int, shift_us: int = 0
    ) -> MediaPlaylist:
        """A subtitle track's live (or shifted) playlist; rendered per request (a few
        segments, fetched once per subtitle segment by a player)."""
        subtitles = channel.subtitle_timeline(number)
        try:
            segments, next_change = subtitles.live(at_us)
        except NotOnAir as error:
            raise _before_history(error, at_us + shift_us, shift_us) from None
        body = render_subtitle_playlist(subtitles, segments, EMPTY_WEBVTT_PATH)
        return MediaPlaylist(
            Rendered.of(body), next_change + shift_us, False, subtitles.target_duration_s
        )

    def media_playlist(
        self, channel_id: str, variant_name: str, now_us: int, shift_us: int = 0
    ) -> MediaPlaylist:
        """The live media playlist, or with shift_us the channel as it was that long ago
        (time-shift: the same segments, numbers and dates, later)."""
        channel = self._get(channel_id)
        if shift_us:
            self.check_shift(channel_id, shift_us)
        at = now_us - shift_us
        text_track = channel.text_tracks.get(variant_name)
        if text_track is not None:
            return self._subtitles(channel, text_track, at, shift_us)
        variant = self._variant(channel_id, channel, variant_name)
        timeline = channel.timeline

        def make(slot_at: Callable[[int], Slot]) -> _CachedWindow:
            try:
                window = live_window(timeline, at, slot_at)
            except NotOnAir as error:
                raise _before_history(error, now_us, shift_us) from None
            return _CachedWindow(timeline, window, window.slots[-1].end_us, window.next_change_us)

        return self._playlist((channel_id, False, shift_us), channel, variant, at, make, shift_us)

    def _playlist(
        self,
        key: WindowKey,
        channel: _Channel,
        variant: int,
        at_us: int,
        make: Callable[[Callable[[int], Slot]], _CachedWindow],
        shift_us: int = 0,
    ) -> MediaPlaylist:
        """The variant's playlist of the window `key` at at_us: cached while still current,
        else made by make(slot lookup) reusing the previous window's segments and texts."""
        timeline = channel.timeline
        cached = self.cache.get(key)
        if cached is not None and cached.timeline is not timeline:
            cached = None  # the plan changed
        hit = cached is not None and cached.valid_from_us <= at_us < cached.valid_until_us
        if cached is None or not hit:
            known = {} if cached is None else {s.media_sequence: s for s in cached.window.slots}

            def slot_at(media_sequence: int) -> Slot:
                found = known.get(media_sequence)
                return found if found is not None else timeline.slot(media_sequence)

            fresh = make(slot_at)
            if cached is not None:
                first = fresh.window.media_sequence
                fresh.texts = {k: v for k, v in cached.texts.items() if k[0] >= first}
            self.cache.put(key, fresh)
            cached = fresh
        rendered = cached.media.get(variant)
        if rendered is None:
            hit = False
            rendered = cached.media[variant] = Rendered.of(cached.render(variant))
            self.cache.resize(cached)
        return MediaPlaylist(
            rendered,
            cached.valid_until_us + shift_us,
            hit,
            timeline.plan.channel.target_duration_s,
            cached.ended,
        )

    def check_shift(self, channel_id: str, shift_us: int) -> None:
        """BadRequest unless 0 < shift_us <= the channel's maximum (NotFound: no channel)."""
        limit = self._get(channel_id).timeline.plan.channel.max_shift_us
        if not 0 < shift_us <= limit:
            raise BadRequest(
                "seconds", f"must be between 1 and {limit // US_PER_S} (the channel's maximum)"
            )

    def current_program_start_ms(self, channel_id: str, now_us: int) -> int:
        """Unix milliseconds at which the program on air began (NotFound: filler or slate)."""
        timeline = self._get(channel_id).timeline
        if now_us < timeline.start_us:
            raise NotFound(None, f"channel {channel_id!r} is not on air")
        index = bisect_right(timeline.group_starts, now_us) - 1
        group = timeline.groups[index]
        if group.block_index is None:
            raise NotFound(
                None, f"channel {channel_id!r} plays {group.kind.value}, not a program, now"
            )
        while timeline.groups[index].part > 0:
            index -= 1  # a later part or an ad break: the program began with its first part
        return timeline.groups[index].start_us // 1000

    def program(self, channel_id: str, start_ms: int, now_us: int) -> tuple[Group, ...]:
        """The groups of the program that began at start_ms (NotFound: none did; more than
        one when ad breaks split it), if within the channel's time-shift limit (BadRequest
        naming `start`)."""
        timeline = self._get(channel_id).timeline
        index = bisect_right(timeline.group_starts, start_ms * 1000 + 999) - 1
        group = timeline.groups[index] if index >= 0 else None
        if group is None or not group.is_program_start or group.start_us // 1000 != start_ms:
            raise NotFound(
                None, f"no program of channel {channel_id!r} starts at {start_ms} (Unix ms)"
            )
        limit = timeline.plan.channel.max_shift_us
        if group.start_us < now_us - limit:
            raise BadRequest(
                "start", f"is older than the channel's time-shift limit ({limit // US_PER_S} s)"
            )
        return timeline.block_groups(index)

    def program_playlist(
        self, channel_id: str, variant_name: str, start_ms: int, now_us: int
    ) -> MediaPlaylist:
        """Start-over: the program that began at start_ms, from its first segment, growing
        until it ends (then complete with EXT-X-ENDLIST)."""
        channel = self._get(channel_id)
        timeline = channel.timeline
        program = self.program(channel_id, start_ms, now_us)
        text_track = channel.text_tracks.get(variant_name)
        if text_track is not None:
            subtitles = channel.subtitle_timeline(text_track)
            first = bisect_right(timeline.group_starts, program[0].start_us) - 1
            segments, next_change, ended = subtitles.program(
                first, first + len(program) - 1, now_us
            )
            body = render_subtitle_playlist(
                subtitles, segments, EMPTY_WEBVTT_PATH, event=True, ended=ended
            )
            return MediaPlaylist(
                Rendered.of(body),
                FOREVER_US if ended else next_change,
                False,
                subtitles.target_duration_s,
                ended,
            )
        variant = self._variant(channel_id, channel, variant_name)

        def make(slot_at: Callable[[int], Slot]) -> _CachedWindow:
            window, ended = program_window(timeline, program, now_us, slot_at)
            until = FOREVER_US if ended else window.next_change_us
            return _CachedWindow(
                timeline,
                window,
                window.slots[-1].end_us,
                until,
                ended=ended,
                playlist_event=True,
            )

        return self._playlist((channel_id, True, start_ms), channel, variant, now_us, make)

    def multivariant_playlist(
        self, channel_id: str, style: str, variant_uri: Callable[[str], str]
    ) -> Rendered:
        """The multivariant playlist; `style` keys the cache for each form of variant URI."""
        channel = self._get(channel_id)
        rendered = channel.multivariant.get(style)
        if rendered is None:
            rendered = Rendered.of(render_multivariant_playlist(channel.timeline, variant_uri))
            channel.multivariant[style] = rendered
        return rendered
