"""/ingest-jobs: many VODs ingested in the background with progress, on both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from schedule_api.app import create_app
from schedule_api.http.keys import CONTEXT
from schedule_api.store import jobs as job_rows
from schedule_api.store.rows import JobRow
from tests.schedule_api.conftest import fixed_clock, make_settings


async def _finished(api: TestClient, location: str) -> dict[str, Any]:
    for _ in range(200):
        job = await (await api.get(location)).json()
        if job["state"] != "running":
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"job still running: {job}")


async def test_a_job_ingests_each_item_and_reports_each_failure(
    api: TestClient, origin: str
) -> None:
    items = [
        {"id": "slate", "title": "Slate", "url": f"{origin}/media/slate-ts/master.m3u8"},
        {"id": "alpha", "title": "Alpha", "url": f"{origin}/media/ts-alpha/master.m3u8"},
        {"id": "junk", "title": "Junk", "url": f"{origin}/broken/garbage/master.m3u8"},
    ]
    response = await api.post("/ingest-jobs", json={"items": items})
    assert response.status == 202, await response.text()
    job = await _finished(api, response.headers["Location"])
    assert (job["total"], job["done"], job["failed"]) == (3, 2, 1)
    assert "is not UTF-8 text" in job["items"][2]["error"]


async def test_a_job_with_a_repeated_id_is_a_422_naming_it(api: TestClient, origin: str) -> None:
    item = {"id": "a", "title": "A", "url": f"{origin}/media/ts-alpha/master.m3u8"}
    response = await api.post("/ingest-jobs", json={"items": [item, item]})
    assert response.status == 422
    assert (await response.json())["invalid-params"][0]["name"] == "items.1.id"


async def test_an_unknown_job_is_a_404(api: TestClient) -> None:
    assert (await api.get("/ingest-jobs/job-nothing")).status == 404


async def test_a_job_running_when_the_service_stopped_reads_interrupted(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/v.db")
    first = TestClient(TestServer(create_app(settings, clock=fixed_clock())))
    await first.start_server()
    item = {"url": "http://127.0.0.1:9/x.m3u8", "title": "X", "id": "x", "state": "queued"}
    assert first.app is not None
    job = JobRow(id="job-left", state="running", items=[item], created_us=0, updated_us=0)
    async with first.app[CONTEXT].store.begin() as connection:
        await job_rows.insert(connection, job)
    await first.close()
    second = TestClient(TestServer(create_app(settings, clock=fixed_clock())))
    await second.start_server()
    job = await (await second.get("/ingest-jobs/job-left")).json()
    await second.close()
    assert (job["state"], job["items"][0]["state"]) == ("interrupted", "interrupted")
