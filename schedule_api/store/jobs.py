"""SQL for bulk ingest jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from common.errors import NotFound
from schedule_api.store import db
from schedule_api.store.rows import JobRow, typed

_j = db.ingest_jobs.c


async def insert(connection: AsyncConnection, job: JobRow) -> None:
    await connection.execute(
        db.ingest_jobs.insert().values(
            id=job.id,
            state=job.state,
            items=job.items,
            created_us=job.created_us,
            updated_us=job.updated_us,
        )
    )


async def save(
    connection: AsyncConnection, job_id: str, state: str, items: list[dict[str, Any]], now_us: int
) -> None:
    await connection.execute(
        db.ingest_jobs.update()
        .where(_j.id == job_id)
        .values(state=state, items=items, updated_us=now_us)
    )


async def get(connection: AsyncConnection, job_id: str) -> JobRow:
    row = (await connection.execute(db.ingest_jobs.select().where(_j.id == job_id))).first()
    if row is None:
        raise NotFound("job_id", f"ingest job {job_id!r} does not exist")
    return typed(JobRow, row)


async def running(connection: AsyncConnection) -> list[JobRow]:
    rows = await connection.execute(db.ingest_jobs.select().where(_j.state == "running"))
    return [typed(JobRow, row) for row in rows]
