"""Mapping asset renditions to a channel's variants."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.errors import PlanError
from engine.model import ProfileEntry
from engine.profile import codec_families, map_renditions, profile_of
from tests.factories import make_asset


def test_resolution_wins_over_a_closer_bandwidth() -> None:
    asset = make_asset("show", [2_000_000])  # 360p at 600 kb/s, 720p at 2 Mb/s
    profile = (ProfileEntry("hd", 700_000, "avc1.64001f,mp4a.40.2", (1280, 720)),)
    assert [asset.renditions[i].name for i in map_renditions(profile, asset)] == ["720p"]


def test_bandwidth_breaks_ties_between_equal_resolutions() -> None:
    asset = make_asset("show", [2_000_000])
    profile = (ProfileEntry("low", 500_000, "avc1.4d401e,mp4a.40.2", None),)
    assert [asset.renditions[i].name for i in map_renditions(profile, asset)] == ["360p"]


def test_a_variant_with_another_codec_family_is_refused() -> None:
    asset = make_asset("show", [2_000_000])
    profile = (ProfileEntry("hevc", 2_000_000, "hvc1.1.6.L93.B0,mp4a.40.2", (1280, 720)),)
    with pytest.raises(PlanError, match="no rendition matches the codecs"):
        map_renditions(profile, asset)


def test_codec_aliases_share_a_family() -> None:
    assert codec_families("avc3.640028, mp4a.40.2") == codec_families("avc1.4d401e,mp4a.40.5")


def test_profile_of_an_asset_is_its_own_ladder() -> None:
    asset = make_asset("show", [2_000_000])
    assert [(e.name, e.resolution) for e in profile_of(asset)] == [
        ("360p", (640, 360)),
        ("720p", (1280, 720)),
    ]


def test_profile_of_a_bare_media_playlist_is_refused() -> None:
    asset = make_asset("show", [2_000_000])
    bare = replace(asset, renditions=(replace(asset.renditions[0], codecs=None, bandwidth=0),))
    with pytest.raises(PlanError, match=r"renditions\.360p: states no CODECS or BANDWIDTH"):
        profile_of(bare)
