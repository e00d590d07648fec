"""Small builders for core values in tests (synthetic assets with chosen segment durations)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.model import (
    US_PER_S,
    AssetIndex,
    AssetKey,
    Block,
    Channel,
    Checkpoint,
    Clip,
    Container,
    InitSection,
    Plan,
    ProfileEntry,
    Rendition,
    Segment,
    SegmentTable,
)

PROFILE = (
    ProfileEntry("720p", 2_000_000, "avc1.64001f,mp4a.40.2", (1280, 720), 25.0),
    ProfileEntry("360p", 600_000, "avc1.4d401e,mp4a.40.2", (640, 360), 25.0),
)
T0 = 1_798_761_600 * US_PER_S  # 2027-01-01T00:00:00Z


def make_asset(
    asset_id: str,
    durations_us: Sequence[int],
    *,
    container: Container = Container.TS,
    discontinuities: Sequence[int] = (),
    base: str = "https://vod.example/",
) -> AssetIndex:
    """An asset with a 720p and a 360p rendition; segments carry source discontinuities at the
    given indexes."""
    ext = "m4s" if container is Container.FMP4 else "ts"

    def rendition(name: str, size: tuple[int, int], bandwidth: int, codecs: str) -> Rendition:
        init = (
            InitSection(f"{base}{asset_id}/{name}/init.mp4")
            if container is Container.FMP4
            else None
        )
        return Rendition(
            name=name,
            bandwidth=bandwidth,
            codecs=codecs,
            resolution=size,
            segments=SegmentTable.of(
                [
                    Segment(
                        uri=f"{base}{asset_id}/{name}/{i:04d}.{ext}",
                        duration_us=d,
                        init=init,
                        discontinuity=i in discontinuities,
                    )
                    for i, d in enumerate(durations_us)
                ]
            ),
        )

    return AssetIndex(
        id=asset_id,
        version=1,
        url=f"{base}{asset_id}/master.m3u8",
        container=container,
        independent_segments=True,
        renditions=(
            rendition("360p", (640, 360), 600_000, "avc1.4d401e,mp4a.40.2"),
            rendition("720p", (1280, 720), 2_000_000, "avc1.64001f,mp4a.40.2"),
        ),
        title=asset_id,
    )


def make_plan(
    blocks: Sequence[tuple[int, str] | tuple[int, str, int, int | None]],
    *,
    slate: str = "slate",
    target_duration_s: int = 2,
    window_us: int = 12 * US_PER_S,
    checkpoint: Checkpoint | None = None,
    filler: Sequence[str] = (),
    channel_id: str = "test",
    profile: tuple[ProfileEntry, ...] = PROFILE,
) -> Plan:
    """blocks: (start_us, asset_id) or (start_us, asset_id, first_segment, end_segment)."""
    made = []
    for spec in blocks:
        start, asset_id, *clip = spec
        first, end = (clip[0], clip[1]) if clip else (0, None)
        made.append(Block(start, Clip(asset_id, first, end)))
    return Plan(
        channel=Channel(channel_id, "Test", profile, target_duration_s, window_us, slate),
        revision=1,
        checkpoint=checkpoint or Checkpoint(T0),
        blocks=tuple(made),
        filler=tuple(Clip(a) for a in filler),
    )


def keyed(assets: Mapping[str, AssetIndex]) -> dict[AssetKey, AssetIndex]:
    """An asset lookup (by id and version) from assets named by id."""
    return {asset.key: asset for asset in assets.values()}
