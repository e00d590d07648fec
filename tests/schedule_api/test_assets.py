"""/assets on SQLite and PostgreSQL: ingest against a real origin, its broken variants, and
every error path."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from engine.plan_format import AssetIndexModel
from schedule_api.app import create_app
from schedule_api.ingest import ingest_session
from tests.schedule_api.conftest import fixed_clock, ingest, make_settings


async def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.headers["Content-Type"] == "application/problem+json"
    return await response.json()  # type: ignore[no-any-return]


async def test_ingest_indexes_every_rendition(api: TestClient, origin: str) -> None:
    asset = await ingest(api, origin, "ts-alpha", "alpha")
    assert (asset["id"], asset["version"], asset["container"]) == ("alpha", 1, "ts")
    assert asset["duration_seconds"] == 20.0
    assert [(r["name"], r["segments"]) for r in asset["renditions"]] == [
        ("360p", 10),
        ("270p", 10),
        ("180p", 10),
    ]


async def test_ingest_of_fmp4_keeps_the_container(api: TestClient, origin: str) -> None:
    asset = await ingest(api, origin, "cmaf-delta")
    assert asset["container"] == "fmp4"
    assert asset["id"].startswith("cmaf-delta-")


async def test_ingest_follows_a_redirect(api: TestClient, origin: str) -> None:
    response = await api.post("/assets", json={"url": f"{origin}/moved/master.m3u8", "title": "B"})
    assert response.status == 201
    assert (await response.json())["url"].endswith("/media/ts-bravo/master.m3u8")


async def test_same_id_again_is_a_409_pointing_at_reingest(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "ts-alpha", "alpha")
    problem = await _problem(
        await api.post(
            "/assets",
            json={"id": "alpha", "url": f"{origin}/media/ts-alpha/master.m3u8", "title": "A"},
        ),
        409,
    )
    assert "reingest" in problem["detail"]


async def test_reingest_makes_a_new_version_and_keeps_the_old(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "ts-alpha", "alpha")
    response = await api.post("/assets/alpha/reingest")
    assert response.status == 201
    assert (await response.json())["versions"] == [1, 2]
    assert (await (await api.get("/assets/alpha?version=1")).json())["version"] == 1


async def test_reingest_of_an_unknown_asset_is_a_404(api: TestClient) -> None:
    await _problem(await api.post("/assets/missing/reingest"), 404)


async def test_list_searches_and_pages(api: TestClient, origin: str) -> None:
    for asset in ("ts-alpha", "ts-bravo", "ts-charlie"):
        await ingest(api, origin, asset, asset)
    page = await (await api.get("/assets?q=BRAVO")).json()
    assert [a["id"] for a in page["items"]] == ["ts-bravo"]
    page = await (await api.get("/assets?limit=2&offset=1")).json()
    assert ([a["id"] for a in page["items"]], page["total"]) == (["ts-bravo", "ts-charlie"], 3)


async def test_an_empty_offset_is_a_400_naming_offset(api: TestClient) -> None:
    problem = await _problem(await api.get("/assets?offset="), 400)
    assert problem["invalid-params"][0]["name"] == "offset"


async def test_a_bad_page_size_is_a_400_naming_limit(api: TestClient) -> None:
    problem = await _problem(await api.get("/assets?limit=0"), 400)
    assert problem["invalid-params"][0]["name"] == "limit"


async def test_index_is_the_engines_asset_index(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "ts-alpha", "alpha")
    response = await api.get("/assets/alpha/index?version=1")
    assert response.headers["Cache-Control"] == "max-age=31536000, immutable"
    index = AssetIndexModel.model_validate(await response.json()).to_core()
    assert (index.id, index.segment_count, index.duration_us) == ("alpha", 10, 20_000_000)


async def test_unknown_asset_or_version_is_a_404(api: TestClient, origin: str) -> None:
    await _problem(await api.get("/assets/missing"), 404)
    await ingest(api, origin, "ts-alpha", "alpha")
    await _problem(await api.get("/assets/alpha/index?version=7"), 404)


async def test_delete_removes_every_version(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "ts-alpha", "alpha")
    assert (await api.delete("/assets/alpha")).status == 204
    await _problem(await api.get("/assets/alpha"), 404)
    await _problem(await api.delete("/assets/alpha"), 404)


async def test_delete_of_a_channels_slate_is_a_409(api: TestClient, origin: str) -> None:
    await ingest(api, origin, "slate-ts", "slate")
    await api.post("/channels", json={"id": "news", "name": "News", "slate": "slate"})
    problem = await _problem(await api.delete("/assets/slate"), 409)
    assert "news" in problem["detail"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/broken/missing/master.m3u8", "missing/index.m3u8 answered HTTP 404"),
        ("/broken/misaligned/master.m3u8", "rendition '180p': segment 3: ends at 8.500 s"),
        ("/broken/garbage/master.m3u8", "is not"),
        ("/broken/huge/master.m3u8", "larger than 5242880 bytes"),
        ("/broken/slow/master.m3u8", "in time"),
        ("/broken/noendlist/index.m3u8", "EXT-X-ENDLIST: missing"),
        ("/broken/loop/master.m3u8", "more than 3 redirects"),
        ("/nothing/master.m3u8", "answered HTTP 404"),
    ],
    ids=[
        "404-rendition",
        "misaligned",
        "garbage",
        "50MB",
        "slow",
        "no-endlist",
        "redirect-loop",
        "404",
    ],
)
async def test_broken_vod_is_a_422_naming_url_and_reason(
    api: TestClient, origin: str, path: str, reason: str
) -> None:
    problem = await _problem(
        await api.post("/assets", json={"url": origin + path, "title": "x"}), 422
    )
    assert problem["invalid-params"][0]["name"] == "url"
    assert reason in problem["invalid-params"][0]["reason"]


async def test_loopback_is_refused_unless_allowed(database_url: str, origin: str) -> None:
    settings = make_settings(database_url, ALLOWED_SOURCES="")
    async with TestClient(TestServer(create_app(settings, clock=fixed_clock()))) as api:
        problem = await _problem(
            await api.post(
                "/assets", json={"url": f"{origin}/media/ts-alpha/master.m3u8", "title": "A"}
            ),
            422,
        )
    assert "ALLOWED_SOURCES" in problem["invalid-params"][0]["reason"]


async def test_cloud_metadata_address_is_refused(api: TestClient) -> None:
    problem = await _problem(
        await api.post(
            "/assets", json={"url": "http://169.254.169.254/latest/meta-data/", "title": "x"}
        ),
        422,
    )
    assert "169.254.169.254" in problem["invalid-params"][0]["reason"]


async def test_non_http_url_is_refused(api: TestClient) -> None:
    problem = await _problem(
        await api.post("/assets", json={"url": "file:///etc/passwd", "title": "x"}), 422
    )
    assert problem["invalid-params"][0]["name"] == "url"


async def test_an_unresolvable_over_long_host_is_a_422(api: TestClient) -> None:
    url = "https://" + "0" * 300 + "/x.m3u8"
    problem = await _problem(await api.post("/assets", json={"url": url, "title": "x"}), 422)
    assert "cannot resolve host" in problem["invalid-params"][0]["reason"]


@pytest.mark.parametrize("url", ["http://host]name/x.m3u8", "http://host:port/x.m3u8"])
async def test_a_url_that_does_not_parse_is_a_422(api: TestClient, url: str) -> None:
    problem = await _problem(await api.post("/assets", json={"url": url, "title": "x"}), 422)
    assert problem["invalid-params"][0] == {"name": "url", "reason": "is not a valid URL"}


async def test_the_ingest_session_refuses_a_name_that_resolves_to_loopback(origin: str) -> None:
    """The connection itself is guarded, not only the check before it (DNS rebinding)."""
    port = origin.rsplit(":", 1)[1]
    async with ingest_session(()) as session:
        with pytest.raises(aiohttp.ClientConnectorDNSError) as refused:
            await session.get(f"http://localhost:{port}/media/slate-ts/master.m3u8")
    assert "forbidden address" in str(refused.value.os_error)


async def test_the_ingest_session_connects_where_allowed(origin: str) -> None:
    port = origin.rsplit(":", 1)[1]
    allowed = (ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128"))
    async with (
        ingest_session(allowed) as session,
        session.get(f"http://localhost:{port}/media/slate-ts/master.m3u8") as response,
    ):
        assert response.status == 200


async def test_the_ingest_time_limit_covers_the_whole_asset(api: TestClient, origin: str) -> None:
    """Three variants of 0.45 s each: every one within the 1 s limit, the asset not."""
    body = {"url": f"{origin}/slow-variants/master.m3u8", "title": "slow"}
    response = await api.post("/assets", json=body)
    reason = (await response.json())["invalid-params"][0]["reason"]
    assert (response.status, "whole asset" in reason) == (422, True)


async def test_ingest_of_a_174000_segment_playlist_keeps_health_fast(
    database_url: str, origin: str
) -> None:
    settings = make_settings(
        database_url, INGEST_TIMEOUT_SECONDS=60, INGEST_MAX_PLAYLIST_BYTES=16 * 1_048_576
    )
    async with TestClient(TestServer(create_app(settings, clock=fixed_clock()))) as api:
        body = {"url": f"{origin}/long/index.m3u8", "title": "archive", "id": "archive"}
        ingesting = asyncio.ensure_future(api.post("/assets", json=body))
        slowest = 0.0
        while not ingesting.done():
            started = time.monotonic()
            assert (await api.get("/health")).status == 200
            slowest = max(slowest, time.monotonic() - started)
            await asyncio.sleep(0.05)
        created = await ingesting
        assert created.status == 201, await created.text()
    assert slowest < 0.1
