"""The compact segment table: reads back exactly the segments it was made from, and its JSON
form (compact or long) says what is wrong with it."""

from __future__ import annotations

import json
import tracemalloc

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import PlanError
from engine.model import (
    AssetIndex,
    ByteRange,
    Container,
    InitSection,
    Key,
    NumberedNames,
    PackedNames,
    Rendition,
    Segment,
    SegmentTable,
)
from engine.plan_format import AssetIndexModel
from tests.factories import make_asset

_names = st.text(alphabet="abc019_.-/", min_size=1, max_size=12)
_inits = st.one_of(st.none(), st.sampled_from([InitSection("https://o/i0.mp4"), InitSection("x")]))
_keys = st.one_of(st.none(), st.sampled_from([Key("AES-128", "https://k/1"), Key("SAMPLE-AES")]))


@st.composite
def _segment_lists(draw: st.DrawFn) -> list[Segment]:
    count = draw(st.integers(1, 30))
    ranged = draw(st.booleans())
    directory = draw(st.sampled_from(["", "https://cdn.example/a/", "rel/dir/"]))
    return [
        Segment(
            uri=directory + draw(_names),
            duration_us=draw(st.integers(1, 10_000_000)),
            byterange=ByteRange(draw(st.integers(1, 10**6)), draw(st.integers(0, 10**9)))
            if ranged
            else None,
            init=draw(_inits),
            key=draw(_keys),
            discontinuity=draw(st.booleans()),
        )
        for _ in range(count)
    ]


@given(_segment_lists())
def test_a_table_reads_back_the_segments_it_was_made_from(segments: list[Segment]) -> None:
    assert list(SegmentTable.of(segments)) == segments


@given(_segment_lists())
def test_a_table_survives_its_json_form(segments: list[Segment]) -> None:
    table = SegmentTable.of(segments)
    asset = AssetIndex(
        "show", 1, "https://o/show.m3u8", Container.TS, True, (Rendition("v0", 1, table),)
    )
    text = AssetIndexModel.from_core(asset).model_dump_json(exclude_none=True)
    back = AssetIndexModel.model_validate_json(text).to_core()
    assert list(back.renditions[0].segments) == segments


def test_numbered_names_are_found_past_digits_in_the_extension() -> None:
    names = NumberedNames.detect(["seg_000.m4s", "seg_001.m4s", "seg_002.m4s"])
    assert names is not None
    assert names.template == "seg_$Number%03d$.m4s"


def test_names_that_do_not_count_up_are_packed() -> None:
    segments = [Segment(f"https://o/{name}.ts", 2_000_000) for name in ("b", "a", "c")]
    assert isinstance(SegmentTable.of(segments).names, PackedNames)


def test_a_two_hour_rendition_takes_under_40_kilobytes() -> None:
    segments = [
        Segment(f"https://cdn.example/show/720p/seg_{i:05d}.ts", 2_000_000) for i in range(3600)
    ]
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        table = SegmentTable.of(segments)
        size = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(table) == 3600
    assert size < 40_000


def _rendition_json(**fields: object) -> str:
    document = json.loads(
        AssetIndexModel.from_core(make_asset("show", [2_000_000] * 3)).model_dump_json()
    )
    document["renditions"][0].update(fields)
    return json.dumps(document)


def _error(**fields: object) -> PlanError:
    model = AssetIndexModel.model_validate_json(_rendition_json(**fields))
    with pytest.raises(PlanError) as caught:
        model.to_core()
    return caught.value


def test_a_template_without_a_number_field_is_refused() -> None:
    error = _error(uri_template="seg.ts")
    assert (error.field, "$Number$" in error.reason) == ("uri_template", True)


def test_uris_and_durations_of_different_lengths_are_refused() -> None:
    error = _error(uri_template=None, uris=["a.ts", "b.ts"])
    assert (error.field, error.reason) == ("uris", "has 2 URIs for 3 durations")


def test_a_discontinuity_past_the_last_segment_is_refused() -> None:
    assert _error(discontinuities=[3]).field == "discontinuities"


def test_both_segment_forms_at_once_are_refused() -> None:
    error = _error(segments=[{"uri": "a.ts", "duration_us": 1}])
    assert error.field == "durations_us"


def test_the_long_form_reads_as_the_compact_one() -> None:
    asset = make_asset("show", [2_000_000, 1_500_000], discontinuities=[1])
    document = json.loads(AssetIndexModel.from_core(asset).model_dump_json())
    document["renditions"] = [
        {
            "name": r.name,
            "bandwidth": r.bandwidth,
            "codecs": r.codecs,
            "resolution": f"{r.resolution[0]}x{r.resolution[1]}" if r.resolution else None,
            "segments": [
                {"uri": s.uri, "duration_us": s.duration_us, "discontinuity": s.discontinuity}
                for s in r.segments
            ],
        }
        for r in asset.renditions
    ]
    assert AssetIndexModel.model_validate_json(json.dumps(document)).to_core() == asset


def test_an_empty_uri_is_refused() -> None:
    error = _error(uri_template=None, uri_prefix="", uris=["a.ts", "", "c.ts"])
    assert (error.field, error.reason) == ("uris", "a segment URI is empty")
