"""The channels an engine serves, with a render cache. Adapter-side state, but no I/O and no
clock: every method takes `now_us` (microseconds since the epoch).

Per channel only the window airing now is cached, with one rendering per variant; a request
in the same window costs a dict lookup and a comparison. When the window moves the entry is
replaced, so memory stays bounded by channels x variants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from engine.errors import NotFound
from engine.render import render_media_playlist, render_multivariant_playlist, segment_text
from engine.timeline import Slot, Timeline
from engine.window import Window, live_window


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


@dataclass(slots=True)
class _Channel:
    """Per-channel caches. Slots and segment texts are memoised by media sequence number: both
    are pure functions of it, so a window that slides by one segment renders one segment."""

    timeline: Timeline
    variants: dict[str, int]
    current: _CurrentWindow | None = None
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

    def media_playlist(self, channel_id: str, variant_name: str, now_us: int) -> MediaPlaylist:
        channel = self._get(channel_id)
        variant = channel.variants.get(variant_name)
        if variant is None:
            raise NotFound(
                f"channel {channel_id!r} has no variant {variant_name!r} "
                f"(it has {', '.join(channel.variants)})"
            )
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
