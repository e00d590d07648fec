"""No request, however malformed, makes the engine answer 5xx; every error is problem+json."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.clock import ManualClock
from engine.app import create_app, load_timelines
from engine.settings import EngineSettings
from tests.engine.test_app import NOW
from vchannel.samples import PLANS_DIR

TIMELINES = load_timelines(PLANS_DIR)
segment = st.one_of(
    st.sampled_from(["live", "channels", "master.m3u8", "360p.m3u8", "sample-ts", "..", ""]),
    st.text(min_size=0, max_size=20),
)
# A path starting with // is a scheme-relative URL to the test client, not a path.
random_paths = (
    st.lists(segment, min_size=1, max_size=4)
    .map(lambda parts: "/" + "/".join(quote(p, safe="") for p in parts))
    .filter(lambda path: not path.startswith("//"))
)
names = st.one_of(st.sampled_from(["sample-ts", "360p", "master"]), st.text(max_size=40))
route_paths = st.one_of(
    names.map(lambda name: f"/live/{quote(name, safe='')}.m3u8"),
    st.tuples(names, names).map(
        lambda pair: f"/channels/{quote(pair[0], safe='')}/{quote(pair[1], safe='')}.m3u8"
    ),
    st.sampled_from(["/live/master.m3u8", "/live/180p.m3u8", "/health", "/metrics"]),
).filter(lambda path: not path.startswith("//"))
paths = st.one_of(route_paths, random_paths)
queries = st.dictionaries(
    st.sampled_from(["channel", "channel", "channel", "CHANNEL", "x", ""]),
    st.one_of(st.sampled_from(["sample-ts", "sample-cmaf", "", "a" * 300]), st.text(max_size=30)),
    max_size=2,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["GET", "HEAD", "POST", "OPTIONS", "DELETE"]), paths, queries)
async def test_no_request_makes_a_server_error(
    method: str, path: str, query: dict[str, Any]
) -> None:
    app = create_app(EngineSettings(), timelines=TIMELINES, clock=ManualClock(NOW))
    async with TestClient(TestServer(app)) as client:
        response = await client.request(method, path, params=query, allow_redirects=False)
        assert response.status < 500, (method, path, query, await response.text())
        if response.status >= 400 and method != "HEAD":
            assert response.headers["Content-Type"] == "application/problem+json"
            assert response.headers["Cache-Control"] == "no-store"
