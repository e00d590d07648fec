"""Service conventions: API key, CORS, body limit, health, metrics, OpenAPI, migrations."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from schedule_api.app import create_app
from schedule_api.routes import OPERATIONS
from tests.schedule_api.conftest import fixed_clock, make_settings

CHANNEL = {"id": "a", "name": "A", "slate": "nope"}


async def _client(database_url: str, **settings: Any) -> TestClient:
    client = TestClient(
        TestServer(create_app(make_settings(database_url, **settings), clock=fixed_clock()))
    )
    await client.start_server()
    return client


async def test_writes_need_the_api_key(database_url: str) -> None:
    api = await _client(database_url, API_KEY="s3cret")
    try:
        missing = await api.post("/channels", json=CHANNEL)
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        wrong = await api.post("/channels", json=CHANNEL, headers={"Authorization": "Bearer x"})
        assert wrong.status == 401
        right = await api.post(
            "/channels", json=CHANNEL, headers={"Authorization": "Bearer s3cret"}
        )
        assert right.status == 422  # past authentication, refused for the unknown slate
        assert (await api.get("/channels")).status == 200
    finally:
        await api.close()


async def test_reads_need_the_key_when_api_key_reads_is_set(database_url: str) -> None:
    api = await _client(database_url, API_KEY="s3cret", API_KEY_READS="1")
    try:
        assert (await api.get("/channels")).status == 401
        assert (await api.get("/health")).status == 200
    finally:
        await api.close()


async def test_cors_answers_whitelisted_origins_only(database_url: str) -> None:
    api = await _client(database_url, CORS_WHITELIST="https://ops.example")
    try:
        ok = await api.get("/channels", headers={"Origin": "https://ops.example"})
        assert ok.headers["Access-Control-Allow-Origin"] == "https://ops.example"
        other = await api.get("/channels", headers={"Origin": "https://evil.example"})
        assert "Access-Control-Allow-Origin" not in other.headers
        preflight = await api.options(
            "/channels",
            headers={"Origin": "https://ops.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status == 204
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    finally:
        await api.close()


async def test_a_body_over_the_limit_is_a_413_naming_body(database_url: str) -> None:
    api = await _client(database_url, MAX_BODY_BYTES="1024")
    try:
        response = await api.post(
            "/channels", data=b"x" * 4096, headers={"Content-Type": "application/json"}
        )
        assert response.status == 413
        assert (await response.json())["invalid-params"][0]["name"] == "body"
    finally:
        await api.close()


async def test_health_reports_the_database(api: TestClient) -> None:
    assert await (await api.get("/health")).json() == {"status": "ok", "database": "up"}


async def test_metrics_count_requests(api: TestClient) -> None:
    await api.get("/channels")
    text = await (await api.get("/metrics")).text()
    assert 'vchannel_schedule_requests_total{route="/channels",status="200"} 1.0' in text


async def test_openapi_lists_every_operation(api: TestClient) -> None:
    document = await (await api.get("/api/openapi.json")).json()
    assert document["openapi"] == "3.1.0"
    listed = {(m.upper(), p) for p, ops in document["paths"].items() for m in ops}
    assert listed == {(op.method, op.path) for op in OPERATIONS}


async def test_docs_are_served_from_local_files(api: TestClient) -> None:
    page = await (await api.get("/api/docs")).text()
    assert 'src="/api/docs/static/swagger-ui-bundle.js"' in page
    assert (await api.get("/api/docs/static/swagger-ui-bundle.js")).status == 200


async def test_migrations_run_again_without_harm(database_url: str) -> None:
    for _ in range(2):
        api = await _client(database_url)
        assert (await api.get("/health")).status == 200
        await api.close()
