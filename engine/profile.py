"""Which rendition of an asset feeds each variant of a channel's output profile.

A rendition is matched by codec family first (an avc1 variant never carries hvc1 segments),
then by resolution, then by bandwidth; bandwidth alone would put a 1080p rendition of a
high-motion asset into a 720p slot just because its bit rate is close.
"""

from __future__ import annotations

import functools
import math

from engine.errors import PlanError
from engine.model import AssetIndex, ProfileEntry


@functools.lru_cache(maxsize=1024)
def codec_families(codecs: str | None) -> frozenset[str]:
    """'avc1.4d401e,mp4a.40.2' -> {'avc1', 'mp4a'}. avc3 counts as avc1, hev1 as hvc1."""
    if not codecs:
        return frozenset()
    aliases = {"avc3": "avc1", "hev1": "hvc1", "dvhe": "dvh1"}
    families = set()
    for codec in codecs.split(","):
        family = codec.strip().split(".", 1)[0].lower()
        families.add(aliases.get(family, family))
    return frozenset(families)


RenditionTraits = tuple[str | None, tuple[int, int] | None, int]
"""What matching looks at in a rendition: (codecs, resolution, bandwidth)."""


def _distance(entry: ProfileEntry, rendition: RenditionTraits) -> tuple[float, float] | None:
    """How far a rendition is from a profile entry; None when it cannot feed it at all."""
    codecs, resolution, bandwidth = rendition
    wanted = codec_families(entry.codecs)
    have = codec_families(codecs)
    if have and wanted and have != wanted:
        return None
    if entry.resolution is None or resolution is None:
        size = 0.0 if entry.resolution == resolution else 10.0
    else:
        pixels_wanted = entry.resolution[0] * entry.resolution[1]
        pixels_have = resolution[0] * resolution[1]
        size = abs(math.log(pixels_have / pixels_wanted))
    rate = abs(math.log(bandwidth / entry.bandwidth)) if bandwidth else 5.0
    return (size, rate)


def profile_of(asset: AssetIndex) -> tuple[ProfileEntry, ...]:
    """A profile with one variant per rendition of an asset (its own ladder).

    Refuses, naming the rendition, when the source states no CODECS or BANDWIDTH (a bare
    media playlist): a multivariant playlist must not guess them (RFC 8216 4.3.4.2).
    """
    entries = []
    for rendition in asset.renditions:
        if not rendition.codecs or not rendition.bandwidth:
            raise PlanError(
                f"asset {asset.id!r}",
                f"renditions.{rendition.name}",
                "states no CODECS or BANDWIDTH; give the channel a profile",
            )
        entries.append(
            ProfileEntry(
                rendition.name,
                rendition.bandwidth,
                rendition.codecs,
                rendition.resolution,
                rendition.frame_rate,
            )
        )
    return tuple(entries)


def map_renditions(profile: tuple[ProfileEntry, ...], asset: AssetIndex) -> tuple[int, ...]:
    """For each profile entry, the index of the asset rendition that feeds it."""
    traits = tuple((r.codecs, r.resolution, r.bandwidth) for r in asset.renditions)
    chosen = _choose(profile, traits)
    for entry, index in zip(profile, chosen, strict=True):
        if index is None:
            raise PlanError(
                f"asset {asset.id!r}",
                "renditions",
                f"no rendition matches the codecs {entry.codecs!r} of channel variant "
                f"{entry.name!r}",
            )
    return tuple(index for index in chosen if index is not None)


@functools.lru_cache(maxsize=4096)
def _choose(
    profile: tuple[ProfileEntry, ...], renditions: tuple[RenditionTraits, ...]
) -> tuple[int | None, ...]:
    """The best rendition for each profile entry (None: none can feed it). Channels share
    a few profiles and assets a few ladders, so 10,000 channels compile with a few hundred
    distinct matchings: remembered, not recomputed."""
    chosen: list[int | None] = []
    for entry in profile:
        candidates = [
            (distance, index)
            for index, rendition in enumerate(renditions)
            if (distance := _distance(entry, rendition)) is not None
        ]
        chosen.append(min(candidates)[1] if candidates else None)
    return tuple(chosen)
