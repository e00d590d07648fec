"""JSON shapes of plans and asset indexes, as files (`--plans DIR`) and, later, the plan feed.

Pydantic validates them at this boundary and they are converted into the core's frozen
dataclasses; every error names the file, the field path and the reason.

A plan directory holds one `<channel>.json` plan per channel and an `assets/` folder with one
`<asset>.json` index per asset.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from common.instants import from_us, to_us
from common.text import CODECS_PATTERN, LANGUAGE_PATTERN, check_label, check_text
from engine.errors import PlanError
from engine.model import (
    DEFAULT_MAX_SHIFT_US,
    US_PER_S,
    AdMarkers,
    AssetIndex,
    AssetKey,
    Block,
    Break,
    ByteRange,
    Channel,
    Checkpoint,
    Clip,
    Container,
    InitSection,
    Key,
    MediaTrack,
    NumberedNames,
    PackedNames,
    Plan,
    ProfileEntry,
    Rendition,
    Segment,
    SegmentNames,
    SegmentTable,
    SourceMarker,
    SourceMarkers,
    SpliceCommand,
    TableError,
    TrackSpec,
    TrackType,
    describe,
)

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
Resolution = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,4}x[1-9][0-9]{0,4}$")]
Label = Annotated[str, AfterValidator(check_label)]
"""Text shown in a quoted HLS attribute: printable, no double quote (common/text.py)."""
Text = Annotated[str, AfterValidator(check_text)]
"""Free text (names, titles): XML 1.0 legal, no NUL (common/text.py)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolution(value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    width, height = value.split("x")
    return (int(width), int(height))


def _resolution_text(value: tuple[int, int] | None) -> str | None:
    return None if value is None else f"{value[0]}x{value[1]}"


class ByteRangeModel(_Strict):
    length: int = Field(ge=1)
    offset: int = Field(ge=0)


class InitModel(_Strict):
    uri: str
    byterange: ByteRangeModel | None = None


class KeyModel(_Strict):
    method: str
    uri: str | None = None
    iv: str | None = None
    keyformat: str | None = None
    keyformatversions: str | None = None


class SegmentModel(_Strict):
    """One segment, written out in full (the long form of a rendition's segments)."""

    uri: str = Field(min_length=1)
    duration_us: int = Field(ge=1)
    byterange: ByteRangeModel | None = None
    init: InitModel | None = None
    key: KeyModel | None = None
    discontinuity: bool = False


class InitChangeModel(_Strict):
    """From `segment` on, segments use this init section (EXT-X-MAP), or none."""

    segment: int = Field(ge=0)
    init: InitModel | None = None


class KeyChangeModel(_Strict):
    """From `segment` on, segments use this key (EXT-X-KEY), or none."""

    segment: int = Field(ge=0)
    key: KeyModel | None = None


class RenditionModel(_Strict):
    """A rendition, with its segments in one of two forms.

    Compact (what engines are sent, and what `from_core` writes): `durations_us` and the URIs
    as `uri_prefix` plus either `uri_template` (with $Number$ or $Number%05d$ counting up
    from `first_number`) or `uris` (one name per segment); `byteranges` as [length, offset]
    pairs; `inits` and `keys` only where they change; `discontinuities` as segment indexes.

    Long: `segments`, one object per segment (easier to write by hand).
    """

    name: Slug
    bandwidth: int = Field(ge=0)
    codecs: str | None = None
    resolution: Resolution | None = None
    frame_rate: float | None = Field(default=None, gt=0)
    segments: list[SegmentModel] | None = Field(default=None, min_length=1)
    uri_prefix: str = ""
    uri_template: str | None = None
    first_number: int = Field(default=0, ge=0)
    uris: list[str] | None = None
    durations_us: list[Annotated[int, Field(ge=1)]] | None = Field(default=None, min_length=1)
    byteranges: list[tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=0)]]] | None = None
    inits: list[InitChangeModel] = Field(default_factory=list)
    keys: list[KeyChangeModel] = Field(default_factory=list)
    discontinuities: list[Annotated[int, Field(ge=0)]] = Field(default_factory=list)

    def _table(self, where: str) -> SegmentTable:
        if self.segments is not None:
            compact = ("durations_us", "uri_template", "uris", "byteranges")
            extra = [name for name in compact if getattr(self, name) is not None]
            if extra:
                raise PlanError(where, extra[0], "give either `segments` or the compact form")
            return SegmentTable.of([_segment(s) for s in self.segments])
        if self.durations_us is None:
            raise PlanError(where, "durations_us", "required (or `segments`)")
        count = len(self.durations_us)
        names: SegmentNames
        if (self.uri_template is None) == (self.uris is None):
            raise PlanError(where, "uri_template", "give exactly one of `uri_template` and `uris`")
        if self.uri_template is not None:
            try:
                names = NumberedNames.from_template(self.uri_template, self.first_number, count)
            except ValueError as error:
                raise PlanError(where, "uri_template", str(error)) from None
        else:
            assert self.uris is not None
            if not self.uri_prefix and not all(self.uris):
                raise PlanError(where, "uris", "a segment URI is empty")
            names = PackedNames.of(self.uris)
        byteranges = None
        if self.byteranges is not None:
            byteranges = (
                array("q", (length for length, _ in self.byteranges)),
                array("q", (offset for _, offset in self.byteranges)),
            )
        inits = tuple((c.segment, _init(c.init)) for c in self.inits)
        keys = tuple((c.segment, _key(c.key)) for c in self.keys)
        try:
            return SegmentTable(
                uri_prefix=self.uri_prefix,
                names=names,
                durations_us=array("q", self.durations_us),
                byteranges=byteranges,
                # the JSON may leave out "none from segment 0"
                inits=inits if inits[:1] and inits[0][0] == 0 else ((0, None), *inits),
                keys=keys if keys[:1] and keys[0][0] == 0 else ((0, None), *keys),
                discontinuities=tuple(self.discontinuities),
            )
        except TableError as error:
            raise PlanError(where, error.field, error.reason) from None

    def to_core(self, asset_id: str) -> Rendition:
        return Rendition(
            name=self.name,
            bandwidth=self.bandwidth,
            codecs=self.codecs,
            resolution=_resolution(self.resolution),
            frame_rate=self.frame_rate,
            segments=self._table(f"asset {asset_id!r}: rendition {self.name!r}"),
        )

    @classmethod
    def from_core(cls, rendition: Rendition) -> RenditionModel:
        table = rendition.segments
        names = table.names
        return cls(
            name=rendition.name,
            bandwidth=rendition.bandwidth,
            codecs=rendition.codecs,
            resolution=_resolution_text(rendition.resolution),
            frame_rate=rendition.frame_rate,
            uri_prefix=table.uri_prefix,
            uri_template=names.template if isinstance(names, NumberedNames) else None,
            first_number=names.first if isinstance(names, NumberedNames) else 0,
            uris=None
            if isinstance(names, NumberedNames)
            else [names[i] for i in range(len(names))],
            durations_us=table.durations_us.tolist(),
            byteranges=None
            if table.byteranges is None
            else list(zip(table.byteranges[0].tolist(), table.byteranges[1].tolist(), strict=True)),
            inits=[
                InitChangeModel(segment=start, init=_init_model(init))
                for start, init in table.inits
                if start or init is not None
            ],
            keys=[
                KeyChangeModel(segment=start, key=_key_model(key))
                for start, key in table.keys
                if start or key is not None
            ],
            discontinuities=list(table.discontinuities),
        )


def _byterange(value: ByteRangeModel | None) -> ByteRange | None:
    return None if value is None else ByteRange(value.length, value.offset)


def _byterange_model(value: ByteRange | None) -> ByteRangeModel | None:
    return None if value is None else ByteRangeModel(length=value.length, offset=value.offset)


def _init(value: InitModel | None) -> InitSection | None:
    return None if value is None else InitSection(value.uri, _byterange(value.byterange))


def _init_model(value: InitSection | None) -> InitModel | None:
    if value is None:
        return None
    return InitModel(uri=value.uri, byterange=_byterange_model(value.byterange))


def _key(value: KeyModel | None) -> Key | None:
    return None if value is None else Key(**value.model_dump())


def _key_model(value: Key | None) -> KeyModel | None:
    if value is None:
        return None
    return KeyModel(
        method=value.method,
        uri=value.uri,
        iv=value.iv,
        keyformat=value.keyformat,
        keyformatversions=value.keyformatversions,
    )


def _segment(model: SegmentModel) -> Segment:
    return Segment(
        uri=model.uri,
        duration_us=model.duration_us,
        byterange=_byterange(model.byterange),
        init=_init(model.init),
        key=_key(model.key),
        discontinuity=model.discontinuity,
    )


class MediaTrackModel(RenditionModel):
    """A demuxed audio or a WebVTT subtitle track (EXT-X-MEDIA), segments as a rendition's."""

    type: Literal["AUDIO", "SUBTITLES"]
    language: str | None = Field(default=None, max_length=35)
    label: str = Field(default="", max_length=200, description="EXT-X-MEDIA NAME")
    default: bool = False

    def to_track(self, asset_id: str) -> MediaTrack:
        return MediaTrack(
            type=TrackType(self.type),
            name=self.name,
            segments=self._table(f"asset {asset_id!r}: track {self.name!r}"),
            language=self.language,
            label=self.label,
            default=self.default,
            codecs=self.codecs,
        )

    @classmethod
    def from_track(cls, track: MediaTrack) -> MediaTrackModel:
        rendition = Rendition(track.name, 0, track.segments, track.codecs)
        return cls(
            **RenditionModel.from_core(rendition).model_dump(exclude_none=True),
            type=track.type.value,
            language=track.language,
            label=track.label,
            default=track.default,
        )


class SourceMarkerModel(_Strict):
    """An ad marker line of the source playlist and the segment it stands before."""

    segment: int = Field(ge=0)
    tag: str = Field(min_length=1, max_length=4000)


class AssetIndexModel(_Strict):
    id: Slug
    version: int = Field(ge=1)
    url: str
    title: str = ""
    container: Literal["ts", "fmp4"]
    independent_segments: bool
    renditions: list[RenditionModel] = Field(min_length=1)
    tracks: list[MediaTrackModel] = Field(
        default_factory=list, description="demuxed audio and WebVTT subtitle tracks"
    )
    markers: list[SourceMarkerModel] = Field(
        default_factory=list, description="ad markers of the source (SCTE-35, CUE tags)"
    )

    def to_core(self) -> AssetIndex:
        return AssetIndex(
            id=self.id,
            version=self.version,
            url=self.url,
            title=self.title,
            container=Container(self.container),
            independent_segments=self.independent_segments,
            renditions=tuple(r.to_core(self.id) for r in self.renditions),
            tracks=tuple(t.to_track(self.id) for t in self.tracks),
            markers=tuple(SourceMarker(m.segment, m.tag) for m in self.markers),
        )

    @classmethod
    def from_core(cls, asset: AssetIndex) -> AssetIndexModel:
        return cls(
            id=asset.id,
            version=asset.version,
            url=asset.url,
            title=asset.title,
            container=asset.container.value,
            independent_segments=asset.independent_segments,
            renditions=[RenditionModel.from_core(r) for r in asset.renditions],
            tracks=[MediaTrackModel.from_track(t) for t in asset.tracks],
            markers=[SourceMarkerModel(segment=m.segment, tag=m.tag) for m in asset.markers],
        )


class ProfileEntryModel(_Strict):
    """One variant of a channel's multivariant playlist (plan files, the feed and the API)."""

    name: Slug
    bandwidth: int = Field(ge=1, le=100_000_000, description="bits per second")
    codecs: str = Field(
        min_length=1,
        max_length=200,
        pattern=CODECS_PATTERN,
        description="RFC 6381 codecs of the variant (EXT-X-STREAM-INF CODECS)",
        examples=["avc1.64001f,mp4a.40.2"],
    )
    resolution: Resolution | None = None
    frame_rate: float | None = Field(default=None, gt=0, le=240)

    def to_core(self) -> ProfileEntry:
        return ProfileEntry(
            name=self.name,
            bandwidth=self.bandwidth,
            codecs=self.codecs,
            resolution=_resolution(self.resolution),
            frame_rate=self.frame_rate,
        )

    @classmethod
    def from_core(cls, entry: ProfileEntry) -> ProfileEntryModel:
        return cls(
            name=entry.name,
            bandwidth=entry.bandwidth,
            codecs=entry.codecs,
            resolution=_resolution_text(entry.resolution),
            frame_rate=entry.frame_rate,
        )


class TrackSpecModel(_Strict):
    """An audio or subtitle track the channel offers (EXT-X-MEDIA in its master playlist)."""

    name: Slug = Field(description="its media playlist is /live/<name>.m3u8")
    language: str = Field(
        min_length=2,
        max_length=35,
        pattern=LANGUAGE_PATTERN,
        description="RFC 5646 language tag; each asset's track of this language feeds it",
        examples=["en", "fr"],
    )
    label: Label = Field(min_length=1, max_length=100, description="EXT-X-MEDIA NAME")
    default: bool = False

    def to_core(self) -> TrackSpec:
        return TrackSpec(self.name, self.language, self.label, self.default)

    @classmethod
    def from_core(cls, spec: TrackSpec) -> TrackSpecModel:
        return cls(name=spec.name, language=spec.language, label=spec.label, default=spec.default)


class AdMarkersModel(_Strict):
    """How the channel marks ad breaks: EXT-X-DATERANGE with SCTE35-OUT/IN always, in the
    chosen SCTE-35 command; optionally the EXT-X-CUE-OUT/-CUE-OUT-CONT/-CUE-IN tags too."""

    splice_command: Literal["splice_insert", "time_signal"] = "splice_insert"
    cue_tags: bool = False
    source_markers: Literal["strip", "pass"] = Field(
        default="strip", description="ad markers found in the source VOD playlists"
    )

    def to_core(self) -> AdMarkers:
        return AdMarkers(
            SpliceCommand(self.splice_command), self.cue_tags, SourceMarkers(self.source_markers)
        )

    @classmethod
    def from_core(cls, markers: AdMarkers) -> AdMarkersModel:
        return cls(
            splice_command=markers.splice_command.value,
            cue_tags=markers.cue_tags,
            source_markers=markers.source_markers.value,
        )


class ChannelModel(_Strict):
    id: Slug
    name: str = Field(min_length=1, max_length=200)
    target_duration: int = Field(ge=1, le=60, description="EXT-X-TARGETDURATION, seconds")
    window_seconds: float = Field(ge=3, le=3600, description="live window length, seconds")
    slate: Slug = Field(description="asset id of the slate that fills gaps")
    slate_version: int | None = Field(
        default=None, ge=1, description="default: the version found with the plan"
    )
    profile: list[ProfileEntryModel] = Field(min_length=1)
    max_shift_seconds: int = Field(
        default=DEFAULT_MAX_SHIFT_US // US_PER_S,
        ge=0,
        le=30 * 86_400,
        description="how far back time-shift and start-over may reach",
    )
    ad_markers: AdMarkersModel = AdMarkersModel()
    audio_tracks: list[TrackSpecModel] = Field(default_factory=list, max_length=16)
    subtitle_tracks: list[TrackSpecModel] = Field(default_factory=list, max_length=16)
    subtitle_target_duration: int = Field(
        default=6, ge=1, le=60, description="EXT-X-TARGETDURATION of subtitle playlists"
    )


class CheckpointModel(_Strict):
    time: AwareDatetime
    media_sequence: int = Field(default=0, ge=0)
    discontinuity_sequence: int = Field(default=0, ge=0)
    subtitle_sequences: dict[Slug, Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict,
        description="media sequence number of each subtitle track's segment at the checkpoint",
    )

    def to_core(self) -> Checkpoint:
        return Checkpoint(
            to_us(self.time),
            self.media_sequence,
            self.discontinuity_sequence,
            tuple(sorted(self.subtitle_sequences.items())),
        )

    @classmethod
    def from_core(cls, checkpoint: Checkpoint) -> CheckpointModel:
        return cls(
            time=from_us(checkpoint.time_us),
            media_sequence=checkpoint.media_sequence,
            discontinuity_sequence=checkpoint.discontinuity_sequence,
            subtitle_sequences=dict(checkpoint.subtitle_sequences),
        )


def _version(asset_id: str, version: int | None, defaults: Mapping[str, int]) -> int:
    return version if version is not None else defaults.get(asset_id, 1)


class ClipModel(_Strict):
    asset: Slug
    version: int | None = Field(
        default=None, ge=1, description="asset version; default: the version found with the plan"
    )
    first_segment: int = Field(default=0, ge=0)
    end_segment: int | None = Field(default=None, ge=1)
    title: str = ""

    def to_core(self, defaults: Mapping[str, int]) -> Clip:
        return Clip(
            self.asset,
            self.first_segment,
            self.end_segment,
            self.title,
            _version(self.asset, self.version, defaults),
        )

    @classmethod
    def from_core(cls, clip: Clip) -> ClipModel:
        return cls(
            asset=clip.asset_id,
            version=clip.version,
            first_segment=clip.first_segment,
            end_segment=clip.end_segment,
            title=clip.title,
        )


class BreakModel(_Strict):
    """An ad break: before segment `at_segment` of the asset, the slate for `duration`."""

    at_segment: int = Field(ge=0)
    duration: float = Field(gt=0, le=3600, description="seconds")

    def to_core(self) -> Break:
        return Break(self.at_segment, round(self.duration * US_PER_S))

    @classmethod
    def from_core(cls, value: Break) -> BreakModel:
        return cls(at_segment=value.at_segment, duration=value.duration_us / US_PER_S)


class BlockModel(ClipModel):
    start: AwareDatetime
    event_id: str = ""
    breaks: list[BreakModel] = Field(default_factory=list)

    def to_block(self, defaults: Mapping[str, int]) -> Block:
        return Block(
            start_us=to_us(self.start),
            clip=self.to_core(defaults),
            event_id=self.event_id,
            breaks=tuple(x.to_core() for x in self.breaks),
        )

    @classmethod
    def from_block(cls, block: Block) -> BlockModel:
        return cls(
            **ClipModel.from_core(block.clip).model_dump(),
            start=from_us(block.start_us),
            event_id=block.event_id,
            breaks=[BreakModel.from_core(x) for x in block.breaks],
        )


class PlanModel(_Strict):
    channel: ChannelModel
    revision: int = Field(ge=0)
    checkpoint: CheckpointModel
    blocks: list[BlockModel] = Field(default_factory=list)
    filler: list[ClipModel] = Field(default_factory=list)

    def to_core(self, defaults: Mapping[str, int] | None = None) -> Plan:
        """The core plan; `defaults` gives the version of assets whose version is not stated
        (plan files beside an assets folder), otherwise version 1."""
        defaults = defaults or {}
        c = self.channel
        channel = Channel(
            id=c.id,
            name=c.name,
            profile=tuple(p.to_core() for p in c.profile),
            target_duration_s=c.target_duration,
            window_us=round(c.window_seconds * US_PER_S),
            slate_asset_id=c.slate,
            slate_version=_version(c.slate, c.slate_version, defaults),
            max_shift_us=c.max_shift_seconds * US_PER_S,
            ad_markers=c.ad_markers.to_core(),
            audio_tracks=tuple(t.to_core() for t in c.audio_tracks),
            subtitle_tracks=tuple(t.to_core() for t in c.subtitle_tracks),
            subtitle_target_duration_s=c.subtitle_target_duration,
        )
        return Plan(
            channel=channel,
            revision=self.revision,
            checkpoint=self.checkpoint.to_core(),
            blocks=tuple(b.to_block(defaults) for b in self.blocks),
            filler=tuple(f.to_core(defaults) for f in self.filler),
        )

    @classmethod
    def from_core(cls, plan: Plan) -> PlanModel:
        c = plan.channel
        return cls(
            channel=ChannelModel(
                id=c.id,
                name=c.name,
                target_duration=c.target_duration_s,
                window_seconds=c.window_us / US_PER_S,
                slate=c.slate_asset_id,
                slate_version=c.slate_version,
                profile=[ProfileEntryModel.from_core(p) for p in c.profile],
                max_shift_seconds=c.max_shift_us // US_PER_S,
                ad_markers=AdMarkersModel.from_core(c.ad_markers),
                audio_tracks=[TrackSpecModel.from_core(t) for t in c.audio_tracks],
                subtitle_tracks=[TrackSpecModel.from_core(t) for t in c.subtitle_tracks],
                subtitle_target_duration=c.subtitle_target_duration_s,
            ),
            revision=plan.revision,
            checkpoint=CheckpointModel.from_core(plan.checkpoint),
            blocks=[BlockModel.from_block(b) for b in plan.blocks],
            filler=[ClipModel.from_core(f) for f in plan.filler],
        )


def _first_error(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(document)"
    return field, first["msg"]


def load_asset_file(path: Path) -> AssetIndex:
    try:
        model = AssetIndexModel.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise PlanError(str(path), *_first_error(error)) from error
    except OSError as error:
        raise PlanError(str(path), "(file)", error.strerror or str(error)) from error
    try:
        return model.to_core()
    except PlanError as error:
        raise PlanError(str(path), error.field, f"{error.where}: {error.reason}") from error


def load_plan_file(path: Path, defaults: Mapping[str, int] | None = None) -> Plan:
    try:
        model = PlanModel.model_validate_json(path.read_bytes())
    except ValidationError as error:
        raise PlanError(str(path), *_first_error(error)) from error
    except OSError as error:
        raise PlanError(str(path), "(file)", error.strerror or str(error)) from error
    try:
        return model.to_core(defaults)
    except PlanError as error:
        raise PlanError(str(path), error.field, f"{error.where}: {error.reason}") from error


def load_plan_directory(
    path: Path,
) -> tuple[list[tuple[Path, Plan]], dict[AssetKey, AssetIndex]]:
    """Plans (with the file each came from) and asset indexes from a plan directory or file.

    A single plan file takes its assets from an `assets/` folder beside it. A clip that does
    not state its asset version gets the highest version in that folder.
    """
    if path.is_file():
        plan_paths, asset_dir = [path], path.parent / "assets"
    elif path.is_dir():
        plan_paths, asset_dir = sorted(path.glob("*.json")), path / "assets"
    else:
        raise PlanError(str(path), "(path)", "no such file or directory")
    assets: dict[AssetKey, AssetIndex] = {}
    defaults: dict[str, int] = {}
    for asset_path in sorted(asset_dir.glob("*.json")) if asset_dir.is_dir() else []:
        asset = load_asset_file(asset_path)
        if asset.key in assets:
            raise PlanError(str(asset_path), "id", f"{describe(asset.key)} is defined twice")
        assets[asset.key] = asset
        defaults[asset.id] = max(defaults.get(asset.id, 0), asset.version)
    plans = [(p, load_plan_file(p, defaults)) for p in plan_paths]
    return plans, assets
