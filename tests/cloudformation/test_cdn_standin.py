"""The CloudFront stand-in (vchannel/cdn.py) is configured like the distribution: both come from
common/cdn.py, and this compares the generated nginx configuration (parsed with crossplane)
with the CloudFormation template's cache policy, origin and error responses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import crossplane
import pytest

from cloudformation.template import build_template
from vchannel.cdn import CdnConfig, nginx_config, origin_address


def _resources(kind: str) -> list[dict[str, Any]]:
    resources = build_template(None).to_dict()["Resources"].values()
    return [r["Properties"] for r in resources if r["Type"] == kind]


def _distribution() -> dict[str, Any]:
    """The engine's distribution (the API's caches nothing)."""
    engine = build_template(None).to_dict()["Resources"]["Cdn"]["Properties"]
    return engine["DistributionConfig"]  # type: ignore[no-any-return]


def _policy() -> dict[str, Any]:
    (policy,) = _resources("AWS::CloudFront::CachePolicy")
    return policy["CachePolicyConfig"]  # type: ignore[no-any-return]


def _directives(tmp_path: Path) -> dict[str, list[list[str]]]:
    """Every directive of the generated configuration by name (all blocks flattened)."""
    path = tmp_path / "nginx.conf"
    path.write_text(nginx_config(CdnConfig(origins=("127.0.0.1:8000", "127.0.0.1:8001"))))
    parsed = crossplane.parse(str(path), check_ctx=False, check_args=False)
    assert parsed["errors"] == []
    found: dict[str, list[list[str]]] = {}

    def walk(block: list[dict[str, Any]]) -> None:
        for item in block:
            found.setdefault(item["directive"], []).append(item["args"])
            walk(item.get("block", []))

    walk(parsed["config"][0]["parsed"])
    return found


def _seconds(value: str) -> int:
    assert value.endswith("s"), value
    return int(value[:-1])


def test_the_cache_key_is_the_path_and_the_query_the_policy_keys_on(tmp_path: Path) -> None:
    names = _policy()["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"]
    key = "&".join(f"{name}=$arg_{name}" for name in names["QueryStrings"])
    assert _directives(tmp_path)["proxy_cache_key"] == [[f"$raw_path?{key}"]]


def test_only_the_keyed_query_reaches_the_engine(tmp_path: Path) -> None:
    (forward,) = _directives(tmp_path)["proxy_pass"]
    assert forward == ["http://engines$raw_path?channel=$arg_channel"]


def test_no_viewer_header_reaches_the_engine_as_with_no_origin_request_policy(
    tmp_path: Path,
) -> None:
    assert "OriginRequestPolicyId" not in _distribution()["DefaultCacheBehavior"]
    assert _directives(tmp_path)["proxy_pass_request_headers"] == [["off"]]


def test_the_default_ttl_applies_to_answers_without_cache_control(tmp_path: Path) -> None:
    valid = _directives(tmp_path)["proxy_cache_valid"]
    assert ["200", "301", "302", f"{_policy()['DefaultTTL']}s"] in valid


def test_errors_are_kept_for_the_distributions_error_caching_ttl(tmp_path: Path) -> None:
    responses = _distribution()["CustomErrorResponses"]
    codes = [str(r["ErrorCode"]) for r in responses]
    (ttl,) = {r["ErrorCachingMinTTL"] for r in responses}
    assert [*codes, f"{ttl}s"] in _directives(tmp_path)["proxy_cache_valid"]


def test_the_origins_cache_control_is_honoured_as_with_min_ttl_zero(tmp_path: Path) -> None:
    assert _policy()["MinTTL"] == 0
    assert "proxy_ignore_headers" not in _directives(tmp_path)


def test_origin_timeouts_match_the_distribution(tmp_path: Path) -> None:
    (origin,) = _distribution()["Origins"]
    directives = _directives(tmp_path)
    (read,) = directives["proxy_read_timeout"]
    (connect,) = directives["proxy_connect_timeout"]
    assert _seconds(read[0]) == origin["CustomOriginConfig"]["OriginReadTimeout"]
    assert _seconds(connect[0]) == origin["ConnectionTimeout"]


def test_both_compress_playlists(tmp_path: Path) -> None:
    assert _distribution()["DefaultCacheBehavior"]["Compress"] is True
    directives = _directives(tmp_path)
    assert directives["gzip"] == [["on"]]
    assert "application/vnd.apple.mpegurl" in directives["gzip_types"][0]


def test_a_refused_origin_is_left_out_for_the_health_checks_detection_time(
    tmp_path: Path,
) -> None:
    (group, _schedule) = _resources("AWS::ElasticLoadBalancingV2::TargetGroup")
    detection = group["HealthCheckIntervalSeconds"] * group["UnhealthyThresholdCount"]
    servers = [args for args in _directives(tmp_path)["server"] if args]  # not server { }
    assert len(servers) == 2
    assert all(f"fail_timeout={detection}s" in server for server in servers)


def test_requests_for_one_key_are_collapsed(tmp_path: Path) -> None:
    assert _directives(tmp_path)["proxy_cache_lock"] == [["on"]]


def test_requests_for_an_expired_key_are_collapsed_by_its_refresh_in_the_foreground(
    tmp_path: Path,
) -> None:
    directives = _directives(tmp_path)
    assert directives["proxy_cache_use_stale"] == [["updating"]]
    assert directives["proxy_cache_background_update"] == [["off"]]


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000"),
        ("127.0.0.1:8001", "127.0.0.1:8001"),
        ("http://engine:8000/", "engine:8000"),
        ("http://[::1]:8000", "[::1]:8000"),
    ],
)
def test_an_origin_is_given_as_a_url_or_host_and_port(given: str, address: str) -> None:
    assert origin_address(given) == address


@pytest.mark.parametrize("given", ["http://127.0.0.1:8000/live", "http://:8000", "http://a?b=1"])
def test_an_origin_with_a_path_or_no_host_is_refused(given: str) -> None:
    with pytest.raises(ValueError, match="is not an origin"):
        origin_address(given)
