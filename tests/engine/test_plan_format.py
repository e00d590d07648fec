"""Plan and asset files: round trips and error messages that name file, field and reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.app import load_timelines
from engine.errors import PlanError
from engine.model import Block, Clip, Plan
from engine.plan_format import AssetIndexModel, PlanModel, load_plan_directory
from tests.factories import T0, make_asset, make_plan

SAMPLE_PLANS = Path(__file__).resolve().parents[2] / "samples" / "plans"


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "plans"
    shutil.copytree(SAMPLE_PLANS, target)
    return target


def test_sample_plans_load_and_compile() -> None:
    assert sorted(load_timelines(SAMPLE_PLANS)) == ["sample-cmaf", "sample-multi", "sample-ts"]


def test_asset_index_round_trips_through_json() -> None:
    asset = make_asset("show", [2_002_000, 1_920_000], discontinuities=[1])
    model = AssetIndexModel.model_validate_json(AssetIndexModel.from_core(asset).model_dump_json())
    assert model.to_core() == asset


def test_bad_field_is_named_with_its_file(tmp_path: Path) -> None:
    plans = _copy(tmp_path)
    path = plans / "sample-ts.json"
    data = json.loads(path.read_text())
    data["channel"]["target_duration"] = 0
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError) as caught:
        load_plan_directory(plans)
    assert str(path) in str(caught.value)
    assert "channel.target_duration" in str(caught.value)


def test_unknown_asset_in_a_plan_names_the_file(tmp_path: Path) -> None:
    plans = _copy(tmp_path)
    path = plans / "sample-cmaf.json"
    data = json.loads(path.read_text())
    data["filler"][0]["asset"] = "missing"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match=r"sample-cmaf\.json: asset: .*unknown asset 'missing'"):
        load_timelines(plans)


def test_unparseable_json_names_the_file(tmp_path: Path) -> None:
    plans = _copy(tmp_path)
    (plans / "broken.json").write_text("{not json")
    with pytest.raises(PlanError, match=r"broken\.json: \(document\): Invalid JSON"):
        load_plan_directory(plans)


def test_plan_with_asset_versions_round_trips_through_json() -> None:
    base = make_plan([(T0, "show")], filler=["loop"])
    plan = Plan(
        base.channel,
        7,
        base.checkpoint,
        (*base.blocks, Block(T0 + 10_000_001, Clip("show", 1, 3, "Part two", version=2), "ev-1")),
        base.filler,
    )
    text = PlanModel.from_core(plan).model_dump_json()
    assert PlanModel.model_validate_json(text).to_core() == plan


def test_plan_file_clips_without_a_version_take_the_highest_in_the_assets_folder(
    tmp_path: Path,
) -> None:
    plans = _copy(tmp_path)
    newer = AssetIndexModel.model_validate_json((plans / "assets" / "ts-alpha.json").read_bytes())
    (plans / "assets" / "ts-alpha-v2.json").write_text(
        newer.model_copy(update={"version": 2}).model_dump_json()
    )
    loaded, _assets = load_plan_directory(plans / "sample-ts.json")
    clip = next(c for c in loaded[0][1].filler if c.asset_id == "ts-alpha")
    assert clip.version == 2
