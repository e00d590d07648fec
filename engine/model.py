"""The engine's core model: asset indexes, channels and plans. Frozen values, no I/O.

Units, everywhere in the core: an instant is an integer count of microseconds since the Unix
epoch (UTC); a duration is an integer count of microseconds. Floats appear only when a playlist
is printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate

from engine.errors import PlanError

US_PER_S = 1_000_000

AssetKey = tuple[str, int]
"""An asset version: (asset id, version)."""

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
"""Channel ids, asset ids and rendition names: lower-case slugs, safe in URL paths."""


def rounded_seconds(duration_us: int) -> int:
    """A duration in microseconds rounded half-up to whole seconds (RFC 8216 4.3.3.1).

    Python's round() rounds half to even (round(2.5) == 2), which would let a 2.5 s segment
    pass a target duration of 2.
    """
    return (duration_us + US_PER_S // 2) // US_PER_S


class Container(StrEnum):
    """Segment format. A channel keeps one: an EXT-X-MAP would otherwise leak onto TS segments."""

    TS = "ts"
    FMP4 = "fmp4"


@dataclass(frozen=True, slots=True)
class ByteRange:
    """EXT-X-BYTERANGE / EXT-X-MAP BYTERANGE, always with an explicit offset (bytes)."""

    length: int
    offset: int


@dataclass(frozen=True, slots=True)
class InitSection:
    """EXT-X-MAP: the media initialisation section of fMP4 segments (absolute URI)."""

    uri: str
    byterange: ByteRange | None = None


@dataclass(frozen=True, slots=True)
class Key:
    """EXT-X-KEY attributes as the source playlist gave them (URI made absolute)."""

    method: str
    uri: str | None = None
    iv: str | None = None
    keyformat: str | None = None
    keyformatversions: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    """One media segment of a VOD rendition.

    `discontinuity` is True when the source playlist put EXT-X-DISCONTINUITY before it.
    """

    uri: str
    duration_us: int
    byterange: ByteRange | None = None
    init: InitSection | None = None
    key: Key | None = None
    discontinuity: bool = False


@dataclass(frozen=True, slots=True)
class Rendition:
    """One variant stream of an asset (a media playlist and its STREAM-INF attributes).

    bandwidth is in bits per second; 0 when unknown (a bare media playlist states none).
    """

    name: str
    bandwidth: int
    segments: tuple[Segment, ...]
    codecs: str | None = None
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None


@dataclass(frozen=True, slots=True)
class AssetIndex:
    """The immutable index of one ingested HLS VOD (one version of an asset).

    All renditions have the same segment boundaries; the timeline uses the first rendition's
    durations for every rendition, so that renditions agree exactly on dates and sequence.
    """

    id: str
    version: int
    url: str
    container: Container
    independent_segments: bool
    renditions: tuple[Rendition, ...]
    title: str = ""
    prefix_us: tuple[int, ...] = field(init=False, repr=False, compare=False)
    """prefix_us[i]: start of segment i relative to the asset start; prefix_us[-1]: duration."""

    def __post_init__(self) -> None:
        where = f"asset {self.id!r}"
        if not NAME_PATTERN.match(self.id):
            raise PlanError(where, "id", "must be a lower-case slug (a-z, 0-9, '-', '_')")
        if not self.renditions:
            raise PlanError(where, "renditions", "an asset needs at least one rendition")
        count = len(self.renditions[0].segments)
        if count == 0:
            raise PlanError(where, "renditions", "an asset needs at least one segment")
        names: set[str] = set()
        for rendition in self.renditions:
            if rendition.name in names:
                raise PlanError(where, f"renditions.{rendition.name}", "duplicate rendition name")
            names.add(rendition.name)
            if len(rendition.segments) != count:
                raise PlanError(
                    where,
                    f"renditions.{rendition.name}",
                    f"has {len(rendition.segments)} segments, rendition "
                    f"{self.renditions[0].name!r} has {count}: segment boundaries must line up",
                )
        durations = [s.duration_us for s in self.renditions[0].segments]
        if min(durations) <= 0:
            raise PlanError(where, "segments", "every segment needs a positive duration")
        object.__setattr__(self, "prefix_us", (0, *accumulate(durations)))

    @property
    def key(self) -> AssetKey:
        """Identity of this exact asset version."""
        return (self.id, self.version)

    @property
    def segment_count(self) -> int:
        return len(self.prefix_us) - 1

    @property
    def duration_us(self) -> int:
        return self.prefix_us[-1]

    def segment_duration_us(self, index: int) -> int:
        return self.prefix_us[index + 1] - self.prefix_us[index]

    def max_segment_us(self) -> int:
        return max(self.segment_duration_us(i) for i in range(self.segment_count))


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One variant of a channel's multivariant playlist (one rung of its output ladder)."""

    name: str
    bandwidth: int
    codecs: str
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None


DEFAULT_MAX_SHIFT_US = 24 * 3600 * US_PER_S


@dataclass(frozen=True, slots=True)
class Channel:
    """Channel configuration that the engine needs. target_duration_s never changes."""

    id: str
    name: str
    profile: tuple[ProfileEntry, ...]
    target_duration_s: int
    window_us: int
    slate_asset_id: str
    slate_version: int = 1
    max_shift_us: int = DEFAULT_MAX_SHIFT_US
    """How far back time-shifted and start-over playlists may reach."""

    @property
    def slate_key(self) -> AssetKey:
        return (self.slate_asset_id, self.slate_version)

    def __post_init__(self) -> None:
        where = f"channel {self.id!r}"
        if not NAME_PATTERN.match(self.id):
            raise PlanError(where, "id", "must be a lower-case slug (a-z, 0-9, '-', '_')")
        if self.target_duration_s < 1:
            raise PlanError(where, "target_duration", "must be at least 1 second")
        if self.window_us < 3 * self.target_duration_s * US_PER_S:
            raise PlanError(
                where, "window", "must be at least three target durations (RFC 8216 6.2.2)"
            )
        if not self.profile:
            raise PlanError(where, "profile", "needs at least one variant")
        if self.max_shift_us < 0:
            raise PlanError(where, "max_shift", "must not be negative")
        seen: set[str] = set()
        for entry in self.profile:
            if not NAME_PATTERN.match(entry.name) or entry.name == "master":
                raise PlanError(where, f"profile.{entry.name}", "name must be a slug, not 'master'")
            if entry.name in seen:
                raise PlanError(where, f"profile.{entry.name}", "duplicate variant name")
            if entry.bandwidth <= 0:
                raise PlanError(where, f"profile.{entry.name}.bandwidth", "must be positive")
            seen.add(entry.name)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A known point of the timeline: the segment starting at `time_us` has these numbers.

    Nothing exists before the checkpoint; the segment at it carries no discontinuity tag.
    """

    time_us: int
    media_sequence: int = 0
    discontinuity_sequence: int = 0


@dataclass(frozen=True, slots=True)
class Clip:
    """Segments [first_segment, end_segment) of one asset version; end_segment None = to the end.

    The version is part of the reference because a re-ingested asset has a new index while
    programs already on air keep the one they started with.
    """

    asset_id: str
    first_segment: int = 0
    end_segment: int | None = None
    title: str = ""
    version: int = 1

    @property
    def key(self) -> AssetKey:
        return (self.asset_id, self.version)


@dataclass(frozen=True, slots=True)
class Block:
    """A scheduled program: a clip that should start at `start_us` (absolute)."""

    start_us: int
    clip: Clip
    event_id: str = ""


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything an engine needs for one channel, except the asset indexes themselves.

    Every gap (before a block, and forever after the last one) plays `filler` (clips back to
    back, looped from the gap's start), or the slate looped when there is no filler.
    """

    channel: Channel
    revision: int
    checkpoint: Checkpoint
    blocks: tuple[Block, ...] = ()
    filler: tuple[Clip, ...] = ()

    def asset_keys(self) -> set[AssetKey]:
        """(asset id, version) of every asset version the plan refers to."""
        keys = {self.channel.slate_key}
        keys.update(b.clip.key for b in self.blocks)
        keys.update(c.key for c in self.filler)
        return keys


AssetLookup = Mapping[AssetKey, AssetIndex]
"""Asset indexes by (asset id, version)."""


def describe(key: AssetKey) -> str:
    return f"asset {key[0]!r} version {key[1]}"
