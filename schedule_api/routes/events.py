"""/channels/{id}/events and /event-batches: schedule, list, change, delete programs."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from common.errors import Invalid, Malformed
from common.instants import US_PER_S, to_us
from schedule_api import models, views
from schedule_api.http.keys import CONTEXT
from schedule_api.http.openapi import TIME_SCHEMA, Operation, Query
from schedule_api.http.params import body, json_response, query_int, query_time, slug
from schedule_api.service import scheduling
from schedule_api.service.scheduling import EventSpec, EventWrite

FAR_FUTURE_US = models.MAX_EVENT_MS * 1000


def _seconds_us(value: float | None) -> int | None:
    return None if value is None else round(value * US_PER_S)


def _start_us(given: models.EventFields) -> int | None:
    if given.start is not None:
        return to_us(given.start)
    if given.start_ms is not None:
        return given.start_ms * 1000
    return None


def _breaks(breaks: list[models.BreakRequest] | None) -> tuple[tuple[int, int], ...] | None:
    if breaks is None:
        return None
    return tuple(
        (round(b.offset_seconds * US_PER_S), round(b.duration_seconds * US_PER_S)) for b in breaks
    )


def _spec(given: models.EventCreate, field_name: str = "") -> EventSpec:
    start = _start_us(given)
    assert start is not None  # EventCreate requires one of start / start_ms
    return EventSpec(
        id=given.id or scheduling.new_event_id(),
        asset_id=given.asset,
        version=given.version,
        start_us=start,
        clip_in_us=_seconds_us(given.clip_in_seconds),
        clip_out_us=_seconds_us(given.clip_out_seconds),
        title=given.title,
        field=field_name,
        breaks=_breaks(given.breaks),
    )


def _write(
    request: web.Request, channel_id: str, specs: list[EventSpec], replace_: bool
) -> EventWrite:
    ctx = request.app[CONTEXT]
    return EventWrite(channel_id, specs, replace_, ctx.clock.now_us(), ctx.margin_us)


async def create_event(request: web.Request) -> web.Response:
    channel_id = slug(request)
    given = await body(request, models.EventCreateOne)
    write = _write(request, channel_id, [_spec(given)], given.replace)
    (event,) = await scheduling.write_events(request.app[CONTEXT].store, write)
    location = f"/channels/{channel_id}/events/{event.id}"
    return json_response(views.event(event), 201, {"Location": location})


async def create_events(request: web.Request) -> web.Response:
    channel_id = slug(request)
    given = await body(request, models.EventBatch)
    specs = [_spec(event, f"events.{i}") for i, event in enumerate(given.events)]
    ids = [spec.id for spec in specs]
    for i, spec in enumerate(specs):
        if ids.index(spec.id) != i:
            raise Invalid(f"events.{i}.id", f"{spec.id!r} appears twice in the request")
    write = _write(request, channel_id, specs, given.replace)
    events = await scheduling.write_events(request.app[CONTEXT].store, write)
    return json_response(models.EventList(items=[views.event(e) for e in events]), 201)


async def list_events(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    channel_id = slug(request)
    start = query_time(request, "start")
    end = query_time(request, "end")
    start = ctx.clock.now_us() if start is None else start
    end = FAR_FUTURE_US if end is None else end
    if end <= start:
        raise Malformed("end", "must be after start")
    limit = query_int(request, "limit", 500, 1, 5000)
    events = await scheduling.overlapping(ctx.store, channel_id, start, end, limit)
    return json_response(models.EventList(items=[views.event(e) for e in events]))


async def get_event(request: web.Request) -> web.Response:
    store = request.app[CONTEXT].store
    event = await scheduling.get(store, slug(request), slug(request, "event_id"))
    return json_response(views.event(event))


def _changed(current: EventSpec, given: models.EventUpdate) -> EventSpec:
    """The event with the fields a PATCH gives changed."""
    fields = given.model_fields_set
    for name in ("asset", "version"):
        if name in fields and getattr(given, name) is None:
            raise Invalid(name, "may not be null")
    asset = given.asset if given.asset is not None else current.asset_id
    if given.version is not None:
        version: int | None = given.version
    else:  # a different asset plays its latest version unless the request names one
        version = current.version if asset == current.asset_id else None
    start = _start_us(given)
    return replace(
        current,
        asset_id=asset,
        version=version,
        start_us=current.start_us if start is None else start,
        clip_in_us=_seconds_us(given.clip_in_seconds)
        if "clip_in_seconds" in fields
        else current.clip_in_us,
        clip_out_us=_seconds_us(given.clip_out_seconds)
        if "clip_out_seconds" in fields
        else current.clip_out_us,
        title=given.title if "title" in fields else current.title,
        breaks=_breaks(given.breaks) if "breaks" in fields else current.breaks,
    )


async def update_event(request: web.Request) -> web.Response:
    channel_id, event_id = slug(request), slug(request, "event_id")
    store = request.app[CONTEXT].store
    current = await scheduling.event_spec(store, channel_id, event_id)
    given = await body(request, models.EventUpdate)
    write = replace(
        _write(request, channel_id, [_changed(current, given)], given.replace), updating=event_id
    )
    (event,) = await scheduling.write_events(store, write)
    return json_response(views.event(event))


async def delete_event(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    await scheduling.delete_event(
        ctx.store,
        slug(request),
        slug(request, "event_id"),
        now_us=ctx.clock.now_us(),
        margin_us=ctx.margin_us,
    )
    return web.Response(status=204)


OPERATIONS = (
    Operation(
        "POST",
        "/channels/{id}/events",
        create_event,
        "Schedule an event (a program at a start time)",
        201,
        models.Event,
        models.EventCreateOne,
        (400, 401, 404, 409, 413, 422),
        tag="events",
    ),
    Operation(
        "POST",
        "/channels/{id}/event-batches",
        create_events,
        "Schedule many events at once (all or none)",
        201,
        models.EventList,
        models.EventBatch,
        (400, 401, 404, 409, 413, 422),
        tag="events",
    ),
    Operation(
        "GET",
        "/channels/{id}/events",
        list_events,
        "List the events that overlap a time range",
        200,
        models.EventList,
        errors=(400, 404),
        query=(
            Query("start", TIME_SCHEMA, "RFC 3339 or Unix ms (default: now)"),
            Query("end", TIME_SCHEMA, "RFC 3339 or Unix ms (default: no end)"),
            Query("limit", {"type": "integer", "minimum": 1, "maximum": 5000}, "at most"),
        ),
        tag="events",
    ),
    Operation(
        "GET",
        "/channels/{id}/events/{event_id}",
        get_event,
        "Get an event",
        200,
        models.Event,
        errors=(404,),
        tag="events",
    ),
    Operation(
        "PATCH",
        "/channels/{id}/events/{event_id}",
        update_event,
        "Change an event (only after the lock horizon)",
        200,
        models.Event,
        models.EventUpdate,
        (400, 401, 404, 409, 413, 422),
        tag="events",
    ),
    Operation(
        "DELETE",
        "/channels/{id}/events/{event_id}",
        delete_event,
        "Delete an event (only after the lock horizon)",
        204,
        errors=(401, 404, 409),
        tag="events",
    ),
)
