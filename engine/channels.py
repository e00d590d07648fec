"""The channels an engine serves, with a render cache. Adapter-side state, but no I/O and no
clock: every method takes `now_us` (microseconds since the epoch).

Per channel only the window airing now is cached, with one rendering per variant; a request
in the same window costs a dict lookup and a comparison. When the window moves the entry is
replaced, so memory stays bounded by channels x variants.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from engine.errors import BadRequest, NotFound, NotOnAir
from engine.model import US_PER_S
from engine.render import render_media_playlist, render_multivariant_playlist, segment_text
from engine.timeline import Group, GroupKind, Slot, Timeline
from engine.window import Window, live_window, program_window

SHIFT_CACHE_SIZE = 16
"""Time-shifted or start-over windows cached per channel (the most recently made stay)."""
FOREVER_US = 2**62


@dataclass(frozen=True, slots=True)
class Rendered:
    """A playlist body and its strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Rendered:
        return cls(body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')


@dataclass(slots=True)
class _CurrentWindow:
    window: Window
    valid_from_us: int
    valid_until_us: int
    media: dict[int, Rendered] = field(default_factory=dict)
    ended: bool = False
    playlist_event: bool = False
    texts: dict[tuple[int, int, bool], str] = field(default_factory=dict)
    """Segment texts of a time-shifted or start-over window, carried to the next window of
    the same shift so that a slide renders only the new segment, as live does."""

    def rendered(self, timeline: Timeline, variant: int, hit: bool) -> tuple[Rendered, bool]:
        """The variant's playlist of this window, rendered once; and whether it was cached."""
        found = self.media.get(variant)
        if found is None:
            found = self.media[variant] = Rendered.of(self.render(timeline, variant))
            return found, False
        return found, hit

    def render(self, timeline: Timeline, variant: int) -> bytes:
        def text(slot: Slot, previous: Slot | None, variant: int) -> str:
            key = (slot.media_sequence, variant, previous is None)
            found = self.texts.get(key)
            if found is None:
                found = self.texts[key] = segment_text(timeline, slot, previous, variant)
            return found

        return render_media_playlist(
            timeline, self.window, variant, text, event=self.playlist_event, ended=self.ended
        )


@dataclass(slots=True)
class _Channel:
    """Per-channel caches. Slots and segment texts are memoised by media sequence number: both
    are pure functions of it, so a window that slides by one segment renders one segment."""

    timeline: Timeline
    variants: dict[str, int]
    current: _CurrentWindow | None = None
    shifted: dict[int, _CurrentWindow] = field(default_factory=dict)
    """Windows of time-shifted and start-over playlists, by shift (or program start) key."""
    multivariant: dict[str, Rendered] = field(default_factory=dict)
    slots: dict[int, Slot] = field(default_factory=dict)
    texts: dict[tuple[int, int, bool], str] = field(default_factory=dict)

    def slot(self, media_sequence: int) -> Slot:
        slot = self.slots.get(media_sequence)
        if slot is None:
            slot = self.slots[media_sequence] = self.timeline.slot(media_sequence)
        return slot

    def text(self, slot: Slot, previous: Slot | None, variant: int) -> str:
        key = (slot.media_sequence, variant, previous is None)
        text = self.texts.get(key)
        if text is None:
            text = self.texts[key] = segment_text(self.timeline, slot, previous, variant)
        return text

    def forget_before(self, media_sequence: int, window_length: int) -> None:
        """Drop memoised segments that left the window, in batches (when the memo holds more
        than twice the window), so memory stays bounded without work on every slide."""
        if len(self.slots) <= 2 * window_length + 8:
            return
        self.slots = {k: v for k, v in self.slots.items() if k >= media_sequence}
        self.texts = {k: v for k, v in self.texts.items() if k[0] >= media_sequence}


@dataclass(frozen=True, slots=True)
class MediaPlaylist:
    """A rendered media playlist, the instant it stops being current, and whether it was cached."""

    rendered: Rendered
    valid_until_us: int
    cache_hit: bool
    target_duration_s: int


class Channels:
    """Compiled timelines by channel id; `replace` swaps them all at once."""

    def __init__(self, timelines: Mapping[str, Timeline] | None = None) -> None:
        self._channels: dict[str, _Channel] = {}
        self.replace(timelines or {})

    def replace(self, timelines: Mapping[str, Timeline]) -> None:
        channels = {}
        for channel_id, timeline in timelines.items():
            old = self._channels.get(channel_id)
            if old is not None and old.timeline is timeline:
                channels[channel_id] = old
                continue
            variants = {entry.name: i for i, entry in enumerate(timeline.plan.channel.profile)}
            channels[channel_id] = _Channel(timeline, variants)
        self._channels = channels

    def __len__(self) -> int:
        return len(self._channels)

    def ids(self) -> list[str]:
        return sorted(self._channels)

    def _get(self, channel_id: str) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            raise NotFound(f"channel {channel_id!r} does not exist")
        return channel

    def _variant(self, channel_id: str, channel: _Channel, variant_name: str) -> int:
        variant = channel.variants.get(variant_name)
        if variant is None:
            raise NotFound(
                f"channel {channel_id!r} has no variant {variant_name!r} "
                f"(it has {', '.join(channel.variants)})"
            )
        return variant

    def media_playlist(
        self, channel_id: str, variant_name: str, now_us: int, shift_us: int = 0
    ) -> MediaPlaylist:
        """The live media playlist, or with shift_us the channel as it was that long ago
        (time-shift: the same segments, numbers and dates, later)."""
        channel = self._get(channel_id)
        variant = self._variant(channel_id, channel, variant_name)
        if shift_us:
            return self._shifted(channel, variant, now_us, shift_us)
        current = channel.current
        hit = current is not None and current.valid_from_us <= now_us < current.valid_until_us
        if current is None or not hit:
            window = live_window(channel.timeline, now_us, channel.slot)
            current = _CurrentWindow(window, window.slots[-1].end_us, window.next_change_us)
            channel.current = current
            channel.forget_before(window.media_sequence, len(window.slots))
        rendered = current.media.get(variant)
        if rendered is None:
            hit = False
            body = render_media_playlist(channel.timeline, current.window, variant, channel.text)
            rendered = Rendered.of(body)
            current.media[variant] = rendered
        return MediaPlaylist(
            rendered, current.valid_until_us, hit, channel.timeline.plan.channel.target_duration_s
        )

    def _cached(
        self,
        channel: _Channel,
        key: int,
        at_us: int,
        make: Callable[[Callable[[int], Slot]], _CurrentWindow],
    ) -> tuple[_CurrentWindow, bool]:
        """The cached window for `key` if still current at at_us, else a new one from make(slot
        lookup), reusing the previous window's segments and texts."""
        old = channel.shifted.get(key)
        if old is not None and old.valid_from_us <= at_us < old.valid_until_us:
            return old, True
        known = {} if old is None else {s.media_sequence: s for s in old.window.slots}

        def slot_at(media_sequence: int) -> Slot:
            found = known.get(media_sequence)
            return found if found is not None else channel.timeline.slot(media_sequence)

        current = make(slot_at)
        if old is not None:
            first = current.window.media_sequence
            current.texts = {k: v for k, v in old.texts.items() if k[0] >= first}
        elif len(channel.shifted) >= SHIFT_CACHE_SIZE:
            channel.shifted.pop(next(iter(channel.shifted)))
        channel.shifted[key] = current
        return current, False

    def _shifted(
        self, channel: _Channel, variant: int, now_us: int, shift_us: int
    ) -> MediaPlaylist:
        timeline = channel.timeline
        self.check_shift(timeline.plan.channel.id, shift_us)
        at = now_us - shift_us

        def make(slot_at: Callable[[int], Slot]) -> _CurrentWindow:
            try:
                window = live_window(timeline, at, slot_at)
            except NotOnAir as error:
                raise BadRequest(
                    "seconds",
                    f"reaches before the channel's history; at most "
                    f"{max(0, now_us - error.until_us) // US_PER_S} now",
                ) from None
            return _CurrentWindow(window, window.slots[-1].end_us, window.next_change_us)

        current, hit = self._cached(channel, shift_us, at, make)
        rendered, hit = current.rendered(timeline, variant, hit)
        return MediaPlaylist(
            rendered,
            current.valid_until_us + shift_us,
            hit,
            timeline.plan.channel.target_duration_s,
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
            raise NotFound(f"channel {channel_id!r} is not on air")
        group = timeline.groups[bisect_right(timeline.group_starts, now_us) - 1]
        if group.kind is not GroupKind.BLOCK:
            raise NotFound(f"channel {channel_id!r} plays {group.kind.value}, not a program, now")
        return group.start_us // 1000

    def program(self, channel_id: str, start_ms: int, now_us: int) -> Group:
        """The program that began at start_ms (NotFound), if within the channel's time-shift
        limit (BadRequest naming `start`)."""
        timeline = self._get(channel_id).timeline
        index = bisect_right(timeline.group_starts, start_ms * 1000 + 999) - 1
        group = timeline.groups[index] if index >= 0 else None
        if group is None or group.kind is not GroupKind.BLOCK or group.start_us // 1000 != start_ms:
            raise NotFound(f"no program of channel {channel_id!r} starts at {start_ms} (Unix ms)")
        limit = timeline.plan.channel.max_shift_us
        if group.start_us < now_us - limit:
            raise BadRequest(
                "start", f"is older than the channel's time-shift limit ({limit // US_PER_S} s)"
            )
        return group

    def program_playlist(
        self, channel_id: str, variant_name: str, start_ms: int, now_us: int
    ) -> MediaPlaylist:
        """Start-over: the program that began at start_ms, from its first segment, growing
        until it ends (then complete with EXT-X-ENDLIST)."""
        channel = self._get(channel_id)
        variant = self._variant(channel_id, channel, variant_name)
        timeline = channel.timeline
        group = self.program(channel_id, start_ms, now_us)

        def make(slot_at: Callable[[int], Slot]) -> _CurrentWindow:
            window, ended = program_window(timeline, group, now_us, slot_at)
            until = FOREVER_US if ended else window.next_change_us
            return _CurrentWindow(
                window, window.slots[-1].end_us, until, ended=ended, playlist_event=True
            )

        current, hit = self._cached(channel, -start_ms, now_us, make)
        rendered, hit = current.rendered(timeline, variant, hit)
        return MediaPlaylist(
            rendered, current.valid_until_us, hit, timeline.plan.channel.target_duration_s
        )

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
