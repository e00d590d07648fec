"""The engine's core model: asset indexes, channels and plans. Frozen values, no I/O.

Units, everywhere in the core: an instant is an integer count of microseconds since the Unix
epoch (UTC); a duration is an integer count of microseconds. Floats appear only when a playlist
is printed.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import accumulate
from typing import TypeVar, overload

from engine.errors import PlanError

US_PER_S = 1_000_000
_T = TypeVar("_T")

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


NUMBER_FIELD = re.compile(r"\$Number(?:%0([1-9][0-9]?)d)?\$")
"""The segment number in a URI template (as in DASH SegmentTemplate): $Number$ or $Number%05d$."""
_DIGITS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class NumberedNames:
    """Segment names that differ only by a counting number: `before`, number, `after`.

    width 0: the number is written plainly; otherwise zero-padded to `width` digits.
    """

    before: str
    after: str
    first: int
    width: int
    count: int

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> str:
        return f"{self.before}{self.first + index:0{self.width}d}{self.after}"

    @property
    def template(self) -> str:
        number = f"$Number%0{self.width}d$" if self.width else "$Number$"
        return self.before.replace("$", "$$") + number + self.after.replace("$", "$$")

    @classmethod
    def from_template(cls, template: str, first: int, count: int) -> NumberedNames:
        """ValueError unless the template holds exactly one $Number$ field."""
        fields = list(NUMBER_FIELD.finditer(template))
        if len(fields) != 1:
            raise ValueError("needs exactly one $Number$ or $Number%0Nd$ field")
        found = fields[0]
        before, after = template[: found.start()], template[found.end() :]
        if "$" in before.replace("$$", "") or "$" in after.replace("$$", ""):
            raise ValueError("a lone '$' outside $Number$ must be written '$$'")
        width = int(found.group(1) or 0)
        return cls(before.replace("$$", "$"), after.replace("$$", "$"), first, width, count)

    @classmethod
    def detect(cls, names: Sequence[str]) -> NumberedNames | None:
        """The numbered form of `names`, when one run of digits counts up by one."""
        if not names:
            return None
        first = names[0]
        for digits in reversed(list(_DIGITS.finditer(first))):
            text = digits.group()
            padded = len(text) > 1 and text[0] == "0"
            candidate = cls(
                first[: digits.start()],
                first[digits.end() :],
                int(text),
                len(text) if padded else 0,
                len(names),
            )
            if candidate[len(names) - 1] == names[-1] and all(
                name == candidate[i] for i, name in enumerate(names)
            ):
                return candidate
        return None


@dataclass(frozen=True, slots=True)
class PackedNames:
    """Segment names of any shape, packed into one string with their start offsets."""

    text: str
    offsets: array[int]
    """offsets[i]: where name i starts in text; offsets[-1] == len(text)."""

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> str:
        return self.text[self.offsets[index] : self.offsets[index + 1]]

    def __hash__(self) -> int:
        return hash(self.text)

    @classmethod
    def of(cls, names: Sequence[str]) -> PackedNames:
        return cls("".join(names), array("q", (0, *accumulate(len(n) for n in names))))


SegmentNames = NumberedNames | PackedNames


def _shared_directory(uris: Sequence[str]) -> str:
    """The longest prefix ending in '/' that all URIs share ('' when none)."""
    if not uris:
        return ""
    low, high = min(uris), max(uris)  # the lexical extremes bound every common prefix
    length = next((i for i, (a, b) in enumerate(zip(low, high, strict=False)) if a != b), len(low))
    return low[: low.rfind("/", 0, length) + 1]


def _changes(values: Sequence[_T]) -> tuple[tuple[int, _T], ...]:
    """(index, value) wherever the value differs from the one before (run-length form)."""
    found: list[tuple[int, _T]] = []
    for index, value in enumerate(values):
        if not found or found[-1][1] != value:
            found.append((index, value))
    return tuple(found)


def _value_at(changes: tuple[tuple[int, _T], ...], starts: tuple[int, ...], index: int) -> _T:
    return changes[bisect_right(starts, index) - 1][1]


class TableError(ValueError):
    """A segment table is inconsistent; `field` names the part (as in the JSON form)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SegmentTable(Sequence[Segment]):
    """The segments of one rendition, stored compactly and read as a sequence of Segment.

    A 2-hour rendition of 2-second segments is 3,600 segments; as Segment objects with their
    absolute URIs that is about a megabyte, as this table about 30 kB (or 60 kB when the names
    are not numbered): durations are a typed array, URIs one shared prefix plus either a
    numbered name template or one packed string, and the init section and key (which change
    rarely, if ever) are kept only where they change, as an HLS playlist states them.
    """

    uri_prefix: str
    names: SegmentNames
    durations_us: array[int]
    byteranges: tuple[array[int], array[int]] | None = None
    """(lengths, offsets) of every segment's EXT-X-BYTERANGE, or None when none has one."""
    inits: tuple[tuple[int, InitSection | None], ...] = ((0, None),)
    """(first segment, init section) at each change; the first entry is at segment 0."""
    keys: tuple[tuple[int, Key | None], ...] = ((0, None),)
    """(first segment, key) at each change; the first entry is at segment 0."""
    discontinuities: tuple[int, ...] = ()
    """Sorted indexes of the segments with EXT-X-DISCONTINUITY before them in the source."""
    _init_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _key_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        count = len(self.durations_us)
        if len(self.names) != count:
            raise TableError("uris", f"has {len(self.names)} URIs for {count} durations")
        if self.byteranges is not None and not (
            len(self.byteranges[0]) == len(self.byteranges[1]) == count
        ):
            raise TableError("byteranges", f"byte ranges are not given for all {count} segments")
        for name, changes in (("inits", self.inits), ("keys", self.keys)):
            starts = [start for start, _ in changes]
            if not starts or starts[0] != 0:
                raise TableError(name, "the first change must be at segment 0")
            if starts != sorted(set(starts)) or starts[-1] >= max(count, 1):
                raise TableError(
                    name, f"segments must increase and be below {count} (the segment count)"
                )
        found = list(self.discontinuities)
        if found != sorted(set(found)) or (found and not 0 <= found[0] <= found[-1] < count):
            raise TableError(
                "discontinuities",
                f"must be increasing segment indexes below {count} (the segment count)",
            )
        object.__setattr__(self, "_init_starts", tuple(start for start, _ in self.inits))
        object.__setattr__(self, "_key_starts", tuple(start for start, _ in self.keys))

    @classmethod
    def of(cls, segments: Sequence[Segment]) -> SegmentTable:
        """The table of a list of segments (numbered names are found when they count up)."""
        uris = [s.uri for s in segments]
        prefix = _shared_directory(uris)
        names = [uri[len(prefix) :] for uri in uris]
        ranges = [s.byterange for s in segments]
        byteranges = None
        if any(r is not None for r in ranges):
            if not all(r is not None for r in ranges):
                raise ValueError("either every segment has a byte range or none has")
            byteranges = (
                array("q", (r.length for r in ranges if r is not None)),
                array("q", (r.offset for r in ranges if r is not None)),
            )
        return cls(
            uri_prefix=prefix,
            names=NumberedNames.detect(names) or PackedNames.of(names),
            durations_us=array("q", (s.duration_us for s in segments)),
            byteranges=byteranges,
            inits=_changes([s.init for s in segments]) or ((0, None),),
            keys=_changes([s.key for s in segments]) or ((0, None),),
            discontinuities=tuple(i for i, s in enumerate(segments) if s.discontinuity),
        )

    def __len__(self) -> int:
        return len(self.durations_us)

    def __hash__(self) -> int:
        return hash((self.uri_prefix, self.names, self.durations_us.tobytes()))

    @overload
    def __getitem__(self, index: int) -> Segment: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Segment]: ...

    def __getitem__(self, index: int | slice) -> Segment | Sequence[Segment]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("segment index out of range")
        byterange = None
        if self.byteranges is not None:
            byterange = ByteRange(self.byteranges[0][index], self.byteranges[1][index])
        return Segment(
            uri=self.uri(index),
            duration_us=self.durations_us[index],
            byterange=byterange,
            init=self.init_at(index),
            key=self.key_at(index),
            discontinuity=bool(self.discontinuities) and self.is_discontinuity(index),
        )

    def uri(self, index: int) -> str:
        """The absolute URI of segment `index` (0 <= index < len)."""
        return self.uri_prefix + self.names[index]

    def init_at(self, index: int) -> InitSection | None:
        inits = self.inits
        return inits[0][1] if len(inits) == 1 else _value_at(inits, self._init_starts, index)

    def key_at(self, index: int) -> Key | None:
        keys = self.keys
        return keys[0][1] if len(keys) == 1 else _value_at(keys, self._key_starts, index)

    def is_discontinuity(self, index: int) -> bool:
        found = bisect_left(self.discontinuities, index)
        return found < len(self.discontinuities) and self.discontinuities[found] == index

    def discontinuities_within(self, first: int, end: int) -> tuple[int, ...]:
        """Indexes i with first < i < end that start with a source discontinuity."""
        return self.discontinuities[
            bisect_right(self.discontinuities, first) : bisect_left(self.discontinuities, end)
        ]

    @property
    def has_init(self) -> bool:
        return any(init is not None for _, init in self.inits)

    @property
    def has_byteranges(self) -> bool:
        return self.byteranges is not None

    @property
    def has_keyformat(self) -> bool:
        return any(k is not None and (k.keyformat or k.keyformatversions) for _, k in self.keys)


@dataclass(frozen=True, slots=True)
class Rendition:
    """One variant stream of an asset (a media playlist and its STREAM-INF attributes).

    bandwidth is in bits per second; 0 when unknown (a bare media playlist states none).
    """

    name: str
    bandwidth: int
    segments: SegmentTable
    codecs: str | None = None
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None


SOURCE_MARKER_TAGS = (
    "#EXT-X-CUE-OUT-CONT",
    "#EXT-X-CUE-OUT",
    "#EXT-X-CUE-IN",
    "#EXT-X-CUE",
    "#EXT-OATCLS-SCTE35",
    "#EXT-X-SCTE35",
    "#EXT-X-SPLICEPOINT-SCTE35",
    "#EXT-X-DATERANGE",
)
"""Ad marker tags kept from source playlists (SCTE-35 in HLS as ingest finds it)."""


@dataclass(frozen=True, slots=True)
class SourceMarker:
    """An ad marker line that stood before segment `segment` of the source's first rendition."""

    segment: int
    tag: str


class TrackType(StrEnum):
    """EXT-X-MEDIA TYPE of a track an asset carries beside its video (RFC 8216 4.3.4.1)."""

    AUDIO = "AUDIO"
    SUBTITLES = "SUBTITLES"


@dataclass(frozen=True, slots=True)
class MediaTrack:
    """A demuxed audio rendition or a WebVTT subtitle rendition of an asset.

    Audio segments line up one to one with the video segments. Subtitle segments may be
    longer, but each starts and ends on a video segment boundary.
    """

    type: TrackType
    name: str
    segments: SegmentTable
    language: str | None = None
    label: str = ""
    default: bool = False
    codecs: str | None = None


BOUNDARY_TOLERANCE_US = 50_000
"""How far (microseconds) a track's segment boundary may sit from the video's."""


def _aligned_starts(track: MediaTrack, prefix: Sequence[int], where: str) -> tuple[int, ...]:
    """The video segment index at which each of a track's segments starts, or PlanError
    naming the first segment whose end falls between two video boundaries."""
    starts = [0]
    end = 0
    video = 0
    for number, duration in enumerate(track.segments.durations_us):
        end += duration
        video = bisect_left(prefix, end - BOUNDARY_TOLERANCE_US, video + 1)
        if video >= len(prefix) or abs(prefix[video] - end) > BOUNDARY_TOLERANCE_US:
            raise PlanError(
                where,
                f"tracks.{track.name}.segment {number}",
                f"ends at {end / 1e6:.3f} s, which is not a video segment boundary: "
                "its segments cannot be aligned with the video",
            )
        starts.append(video)
    if starts[-1] != len(prefix) - 1:
        raise PlanError(
            where,
            f"tracks.{track.name}",
            f"ends at {end / 1e6:.3f} s but the video lasts {prefix[-1] / 1e6:.3f} s",
        )
    return tuple(starts)


@dataclass(frozen=True, slots=True)
class AssetIndex:
    """The immutable index of one ingested HLS VOD (one version of an asset).

    All renditions have the same segment boundaries; the timeline uses the first rendition's
    durations for every rendition, so that renditions agree exactly on dates and sequence.
    An engine keeps one AssetIndex per asset version, shared by every channel that plays it.
    """

    id: str
    version: int
    url: str
    container: Container
    independent_segments: bool
    renditions: tuple[Rendition, ...]
    title: str = ""
    tracks: tuple[MediaTrack, ...] = ()
    """Demuxed audio and subtitle tracks (the renditions then carry video only)."""
    markers: tuple[SourceMarker, ...] = ()
    """Ad markers of the source, in segment order (written only when a channel passes them)."""
    prefix_us: array[int] = field(init=False, repr=False, compare=False)
    """prefix_us[i]: start of segment i relative to the asset start; prefix_us[-1]: duration."""
    longest_segment_us: int = field(init=False, repr=False, compare=False)
    markers_at: dict[int, tuple[SourceMarker, ...]] = field(init=False, repr=False, compare=False)
    """The source markers by segment."""
    track_starts: tuple[tuple[int, ...], ...] = field(init=False, repr=False, compare=False)
    """Per track: the video segment index at which each of its segments starts, and the
    segment count last (audio: 0, 1, 2, ...)."""

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
        durations = self.renditions[0].segments.durations_us
        if min(durations) <= 0:
            raise PlanError(where, "segments", "every segment needs a positive duration")
        prefix = array("q", (0, *accumulate(durations)))
        object.__setattr__(self, "prefix_us", prefix)
        object.__setattr__(self, "longest_segment_us", max(durations))
        track_names: set[str] = set()
        starts = []
        for track in self.tracks:
            if not NAME_PATTERN.match(track.name) or track.name in track_names | names:
                raise PlanError(where, f"tracks.{track.name}", "needs a unique slug name")
            track_names.add(track.name)
            aligned = _aligned_starts(track, prefix, where)
            if track.type is TrackType.AUDIO:
                if len(track.segments) != count:
                    raise PlanError(
                        where,
                        f"tracks.{track.name}",
                        f"has {len(track.segments)} audio segments for {count} video "
                        "segments: audio segments must line up one to one",
                    )
                if track.segments.discontinuities != self.discontinuities:
                    raise PlanError(
                        where,
                        f"tracks.{track.name}",
                        "EXT-X-DISCONTINUITY differs from the video renditions",
                    )
            elif any(index not in aligned for index in self.discontinuities):
                raise PlanError(
                    where,
                    f"tracks.{track.name}",
                    "a video discontinuity falls inside a subtitle segment",
                )
            starts.append(aligned)
        object.__setattr__(self, "track_starts", tuple(starts))
        by_segment: dict[int, list[SourceMarker]] = {}
        for number, marker in enumerate(self.markers):
            if not 0 <= marker.segment < count:
                raise PlanError(
                    where, f"markers.{number}.segment", f"must be below {count} (the segments)"
                )
            if not marker.tag.startswith(SOURCE_MARKER_TAGS) or "\n" in marker.tag:
                raise PlanError(where, f"markers.{number}.tag", "is not an ad marker tag line")
            by_segment.setdefault(marker.segment, []).append(marker)
        object.__setattr__(
            self, "markers_at", {segment: tuple(found) for segment, found in by_segment.items()}
        )

    def audio_tracks(self) -> tuple[int, ...]:
        """Indexes (in `tracks`) of the audio tracks."""
        return tuple(i for i, t in enumerate(self.tracks) if t.type is TrackType.AUDIO)

    def track_for(self, spec: TrackSpec, kind: TrackType) -> int | None:
        """The track that feeds a channel's track: the same language; for audio, else the
        asset's default audio track, else its first; None when there is none."""
        candidates = [i for i, t in enumerate(self.tracks) if t.type is kind]
        for index in candidates:
            if self.tracks[index].language == spec.language:
                return index
        if kind is TrackType.SUBTITLES or not candidates:
            return None
        defaults = [i for i in candidates if self.tracks[i].default]
        return (defaults or candidates)[0]

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

    @property
    def discontinuities(self) -> tuple[int, ...]:
        """Source discontinuities (segment indexes), the same in every rendition."""
        return self.renditions[0].segments.discontinuities

    def segment_duration_us(self, index: int) -> int:
        return self.prefix_us[index + 1] - self.prefix_us[index]

    def max_segment_us(self) -> int:
        return self.longest_segment_us


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    """One variant of a channel's multivariant playlist (one rung of its output ladder)."""

    name: str
    bandwidth: int
    codecs: str
    resolution: tuple[int, int] | None = None
    frame_rate: float | None = None


DEFAULT_MAX_SHIFT_US = 24 * 3600 * US_PER_S


class SpliceCommand(StrEnum):
    """The SCTE-35 command an ad break is signalled with (SCTE 35 sections 9.7.3, 9.7.4)."""

    SPLICE_INSERT = "splice_insert"
    TIME_SIGNAL = "time_signal"
    """time_signal with a segmentation descriptor: Provider Placement Opportunity
    Start (0x34) and End (0x35)."""


class SourceMarkers(StrEnum):
    """What a channel does with the ad markers its source VOD playlists carry."""

    STRIP = "strip"
    PASS = "pass"
    """Written before the same segments: CUE tags as they are, EXT-X-DATERANGE re-dated to
    the airing (see engine.render.source_marker_lines)."""


@dataclass(frozen=True, slots=True)
class AdMarkers:
    """How a channel marks its ad breaks. EXT-X-DATERANGE with SCTE35-OUT/IN is always
    written (RFC 8216 4.3.2.7.1); `cue_tags` adds the common EXT-X-CUE-OUT, -CUE-OUT-CONT and
    -CUE-IN tags that many ad insertion services read instead."""

    splice_command: SpliceCommand = SpliceCommand.SPLICE_INSERT
    cue_tags: bool = False
    source_markers: SourceMarkers = SourceMarkers.STRIP


@dataclass(frozen=True, slots=True)
class TrackSpec:
    """An audio or subtitle track a channel offers (EXT-X-MEDIA, RFC 8216 4.3.4.1).

    `name` addresses its media playlist (`/live/<name>.m3u8`); each asset feeds it with its
    own track of the same `language`, or (audio only) with its default track.
    """

    name: str
    language: str
    label: str
    default: bool = False


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
    ad_markers: AdMarkers = AdMarkers()
    audio_tracks: tuple[TrackSpec, ...] = ()
    subtitle_tracks: tuple[TrackSpec, ...] = ()
    subtitle_target_duration_s: int = 6
    """EXT-X-TARGETDURATION of subtitle playlists (subtitle segments may be longer than
    video segments); fixed for the channel's life, like the video one."""

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
        for kind, tracks in (
            ("audio_tracks", self.audio_tracks),
            ("subtitle_tracks", self.subtitle_tracks),
        ):
            languages: set[str] = set()
            for track in tracks:
                if not NAME_PATTERN.match(track.name) or track.name == "master":
                    raise PlanError(
                        where, f"{kind}.{track.name}", "name must be a slug, not 'master'"
                    )
                if track.name in seen:
                    raise PlanError(
                        where, f"{kind}.{track.name}", "name is taken by a variant or track"
                    )
                if track.language in languages:
                    raise PlanError(where, f"{kind}.{track.name}", "two tracks of one language")
                seen.add(track.name)
                languages.add(track.language)
            if sum(track.default for track in tracks) > 1:
                raise PlanError(where, kind, "at most one track can be the default")
        if self.subtitle_target_duration_s < self.target_duration_s:
            raise PlanError(
                where, "subtitle_target_duration", "must be at least the target duration"
            )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A known point of the timeline: the segment starting at `time_us` has these numbers.

    Nothing exists before the checkpoint; the segment at it carries no discontinuity tag.
    """

    time_us: int
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    subtitle_sequences: tuple[tuple[str, int], ...] = ()
    """(subtitle track name, media sequence number of its segment at the checkpoint): subtitle
    playlists are numbered on their own, and keep counting when a plan is compacted."""

    def subtitle_sequence(self, track: str) -> int:
        return dict(self.subtitle_sequences).get(track, 0)


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
class Break:
    """An ad break inside a program: before segment `at_segment` of the asset (a segment
    boundary of the clip, its end included), the slate plays for `duration_us`."""

    at_segment: int
    duration_us: int


@dataclass(frozen=True, slots=True)
class Block:
    """A scheduled program: a clip that should start at `start_us` (absolute), with its ad
    breaks in segment order."""

    start_us: int
    clip: Clip
    event_id: str = ""
    breaks: tuple[Break, ...] = ()


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
